import { createSSRApp } from 'vue';
import * as Pinia from 'pinia';
import App from './App.vue';
// #ifdef MP-WEIXIN
import { guardPreloadAssets } from './platform/preload-guard';

guardPreloadAssets(wx);
// #endif

export function createApp() {
  const app = createSSRApp(App);
  app.use(Pinia.createPinia());
  return { app, Pinia };
}
