/** The login doors a host lists in `ServerOptions.doors` (docs/design/issue-20-drop-in.md §5). */
export type { Door, DoorApp, DoorContext, DoorKind, LimitClass } from './door.js';
export { miniProgram, type MiniProgramDoor, type MiniProgramOptions } from './mini.js';
export { websiteQr, type WebsiteQrDoor, type WebsiteQrOptions } from './web.js';
export { officialAccount, type OfficialAccountDoor, type OfficialAccountOptions } from './oa.js';
export { pcLogin, type PcLoginDoor } from './pc.js';
export { followToLogin, followOf, type FollowToLoginDoor } from './follow.js';
export { webviewTicket, type WebviewTicketDoor } from './webview.js';
