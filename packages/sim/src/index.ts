/**
 * wlu-wxlogin-sim: a strict local stand-in for WeChat's servers and pages, for development and
 * tests only (docs/SIMULATOR.md). Never point a production server at it.
 */
export { createSimulator, type SimulatorOptions } from './app.js';
export { startSimulator, wechatBases, SimPortInUseError, type StartSimulatorOptions, type RunningSimulator, type WechatBases } from './server.js';
export { DEFAULT_MINI_APPID, derivedAppid, defaultDomains } from './defaults.js';
export { SimState, OA_ACCOUNT_TYPES, type SimApp, type OaAccountType } from './state.js';
export type { PushMode, ServerUrlConfig } from './oa-server.js';
