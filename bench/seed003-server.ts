// The seed-003 handler (../shared/seeds/003_45af7399168f7b27.txt, an Express route from a public
// blog post), reproduced AS WRITTEN so the product has a fixed point of comparison: Express, the
// MongoDB driver, findOneAndUpdate + findOne on a returning login, findOneAndUpdate + findOne +
// insertMany on a first login. Deliberately not improved. Differences, all neutral or in its favour:
// - `db` is a driver collection with a unique index on openId (the post shows no schema; without an
//   index every login would scan 100,000 users);
// - `axios({ url, method: 'get' })` is Node's fetch (same request; axios is not a dependency here);
// - `Token.tokenSet()` (not shown in the post) is 16 random bytes in hex;
// - appId/appSecret come from the environment (the simulator's), not literals.
// GET /__bench/stats answers the MongoDB commands sent (driver command monitoring).
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { MongoClient } from 'mongodb';

const client = new MongoClient(process.env.MONGODB_URI!, { monitorCommands: true, maxPoolSize: 5 });
let commands = 0;
const byName: Record<string, number> = {};
client.on('commandStarted', (event) => {
  commands++;
  byName[event.commandName] = (byName[event.commandName] ?? 0) + 1;
});
const db = client.db(process.env.BENCH_SEED_DB ?? 'bench_seed').collection('users');
const WECHAT = process.env.WECHAT_API_BASE!;
const Token = { tokenSet: () => randomBytes(16).toString('hex') };

const app = express();
app.use(express.json());
const router = express.Router();

// ---- the handler as written in the seed document (formatting restored, logic unchanged) ----
router.post('/wxLogin', async (req, res, next) => {
  try {
    const { code, avatarUrl, userName } = req.body;
    let token = Token.tokenSet();
    // 当前微信开发者的appId
    const appId = process.env.WECHAT_MINI_APPID;
    const appSecret = process.env.WECHAT_MINI_SECRET;
    // 微信登录的第三方接口
    const url = `${WECHAT}/sns/jscode2session?appid=${appId}&secret=${appSecret}&js_code=${code}&grant_type=authorization_code`;
    //调用微信登录第三方接口
    const { openid, session_key } = (await (await fetch(url, { method: 'get' })).json()) as { openid: string; session_key: string };
    //更新当前用户的信息
    const updateInfo = await db.findOneAndUpdate({ openId: openid }, { $set: { sessionKey: session_key, token, avatarUrl, userName } });
    if (updateInfo) {
      const userInfo = await db.findOne({ openId: openid });
      return res.jsonp({ code: 1, message: '登录成功', data: userInfo });
    } else {
      //如果当前用户没有登录则插入一条新的用户信息
      const insertInfo = { openId: openid, sessionKey: session_key, userType: 2, status: 1, token, userName, avatarUrl };
      const userInfo = await db.findOne({ openId: openid });
      await db.insertMany([insertInfo]);
      return res.jsonp({ code: 1, message: '登录成功', data: userInfo });
    }
  } catch {
    next({ message: '接口错误' });
  }
});
// ---- end of the seed handler ----

app.use('/api', router);
app.get('/__bench/stats', (_req, res) => {
  res.json({ commands, byName });
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
});
process.on('SIGTERM', () => server.close(() => client.close().then(() => process.exit(0))));
