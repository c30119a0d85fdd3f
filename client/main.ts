import { createSSRApp } from 'vue';
import * as Pinia from 'pinia';
import App from './App.vue';
import { createWechatLogin } from '@/uni_modules/wlu-wxlogin';

export function createApp() {
  const app = createSSRApp(App);
  app.use(Pinia.createPinia());
  const env = import.meta.env;
  app.use(createWechatLogin({ apiBase: env.VITE_API_BASE, doors: env.VITE_LOGIN_DOORS, pcLogin: env.VITE_PC_LOGIN, appName: env.VITE_APP_NAME, after: '/pages/account/index' }));
  return { app, Pinia };
}
