import { spawn, type ChildProcess } from 'node:child_process';

/** Starts `node <file>` in `cwd` and waits for the line it prints with its URL (http://127.0.0.1:<port>). */
export async function startHostProcess(cwd: string, file: string, env: Record<string, string>): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [file], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} printed no URL in 20 s:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /http:\/\/127\.0\.0\.1:\d+/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[0]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${file} exited (${code}):\n${output}`)));
  });
  return { url, child, output: () => output };
}

/** mini login (a simulator code) → /api/auth/me → logout → /api/auth/me 401, and the host's /orders on `base`. */
export async function loginJourney(base: string, code: string): Promise<{ userId: string; orders: number[] }> {
  const res = await fetch(`${base}/api/auth/mini/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
  const login = (await res.json()) as { token: string; user: { id: string } };
  if (res.status !== 200) throw new Error(`login: ${res.status} ${JSON.stringify(login)}`);
  const headers = { authorization: `Bearer ${login.token}` };
  const steps: number[] = [];
  const anonymous = await fetch(`${base}/orders`);
  steps.push(anonymous.status);
  const orders = await fetch(`${base}/orders`, { headers });
  steps.push(orders.status);
  if (orders.status === 200 && ((await orders.json()) as { owner: string }).owner !== login.user.id) throw new Error('/orders answered for someone else');
  const me = await fetch(`${base}/api/auth/me`, { headers });
  if (((await me.json()) as { user: { id: string } }).user.id !== login.user.id) throw new Error('/api/auth/me is not the user who logged in');
  steps.push(me.status);
  steps.push((await fetch(`${base}/api/auth/logout`, { method: 'POST', headers })).status);
  steps.push((await fetch(`${base}/api/auth/me`, { headers })).status);
  steps.push((await fetch(`${base}/orders`, { headers })).status);
  return { userId: login.user.id, orders: steps };
}
