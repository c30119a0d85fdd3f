/**
 * The closed set of error codes the API answers with. Shared by the server (which sends them)
 * and the client (which turns them into Chinese text and decides whether to retry).
 * Envelope: `{ "error": { "code": ErrorCode, "message": string } }`.
 */
export const ERROR_CODES = {
  invalid_request: { status: 400, message: '请求参数不正确' },
  invalid_json: { status: 400, message: '请求体不是合法的 JSON' },
  unauthorized: { status: 401, message: '登录已失效，请重新登录' },
  not_found: { status: 404, message: '接口不存在' },
  method_not_allowed: { status: 405, message: '不支持该请求方法' },
  payload_too_large: { status: 413, message: '请求体过大' },
  unsupported_media_type: { status: 415, message: '请求体必须是 application/json' },
  code_already_used: { status: 409, message: '登录凭证已使用，请重新获取' },
  code_invalid: { status: 401, message: '登录凭证无效或已过期，请重新登录' },
  wechat_user_blocked: { status: 403, message: '账号存在风险，暂时无法登录' },
  wechat_rate_limited: { status: 429, message: '请求过于频繁，请稍后再试' },
  wechat_unavailable: { status: 503, message: '微信服务暂时不可用，请稍后再试' },
  wechat_config_invalid: { status: 500, message: '服务端微信配置有误，请联系管理员' },
  wechat_ip_not_whitelisted: { status: 503, message: '服务器 IP 不在微信白名单中，请管理员在公众平台「开发管理 → 开发设置 → IP 白名单」中添加出口 IP，或配置固定 IP 的出口代理' },
  wechat_token_unavailable: { status: 503, message: '微信接口凭证暂时无法获取，请稍后再试' },
  phone_code_invalid: { status: 400, message: '手机号授权已失效，请重新点击获取手机号' },
  decrypt_failed: { status: 400, message: '数据解密失败，请重新登录后再试' },
  content_risky: { status: 400, message: '内容含有违规信息，请修改后重试' },
  too_many_requests: { status: 429, message: '操作过于频繁，请稍后再试' },
  avatar_invalid: { status: 400, message: '头像必须是 JPEG、PNG、GIF 或 WebP 图片' },
  avatar_not_allowed: { status: 400, message: '头像地址不被允许' },
  web_login_not_configured: { status: 503, message: '网站扫码登录暂未开通' },
  web_login_state_invalid: { status: 400, message: '登录已过期，请重新扫码' },
  web_login_state_used: { status: 409, message: '本次扫码登录已完成或已失效，请重新扫码' },
  oa_login_not_configured: { status: 503, message: '公众号授权登录暂未开通' },
  oa_login_state_invalid: { status: 400, message: '登录已过期，请重新授权' },
  oa_login_state_used: { status: 409, message: '本次授权登录已完成或已失效，请重新授权' },
  oa_login_denied: { status: 403, message: '你已取消微信授权' },
  oa_login_consent_required: { status: 401, message: '首次使用请点击「微信授权登录」，允许获取昵称、头像' },
  oa_login_snapshot_user: { status: 403, message: '当前为快照页，请点击页面底部的「使用完整服务」后再登录' },
  oa_push_not_configured: { status: 503, message: '公众号服务器配置未启用' },
  oa_push_signature_invalid: { status: 401, message: '消息签名校验失败' },
  oa_push_timestamp_stale: { status: 401, message: '消息时间戳已过期' },
  oa_push_body_invalid: { status: 400, message: '消息格式不正确' },
  webview_ticket_invalid: { status: 401, message: '登录票据无效或已过期，请返回小程序重新打开' },
  webview_ticket_mini_only: { status: 403, message: '只有小程序内的登录可以打开网页登录' },
  wechat_reauthorize_required: { status: 401, message: '微信授权已过期，请重新授权后再同步头像昵称' },
  wechat_sync_unavailable: { status: 503, message: '同步微信头像昵称暂未开通' },
  pc_login_not_configured: { status: 503, message: '电脑扫码登录暂未开通' },
  pc_login_invalid: { status: 400, message: '登录请求无效，请在电脑上刷新二维码' },
  pc_login_expired: { status: 410, message: '二维码已过期，请在电脑上刷新二维码' },
  pc_login_used: { status: 409, message: '本次登录已完成或已取消，请在电脑上刷新二维码' },
  pc_login_cancelled: { status: 409, message: '已在手机上取消此次登录' },
  pc_login_not_confirmed: { status: 409, message: '请先在手机上确认登录' },
  pc_login_not_scanner: { status: 403, message: '此确认链接只能由扫码的微信本人打开。请勿打开别人转发给你的链接；如需登录，请在你自己的电脑上扫码' },
  store_unavailable: { status: 503, message: '数据服务暂时不可用，请稍后再试' },
  seal_key_unknown: { status: 503, message: '服务器密钥配置不一致，请稍后再试' },
  server_misconfigured: { status: 503, message: '服务端配置有误，请联系管理员' },
  request_timeout: { status: 503, message: '服务器处理超时，请稍后再试' },
  internal_error: { status: 500, message: '服务器内部错误' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  /** requestId: the id of the failed request (also the x-request-id header and every log line of it) */
  error: { code: ErrorCode; message: string; requestId?: string };
}

export function isErrorBody(value: unknown): value is ErrorBody {
  const error = (value as ErrorBody | null)?.error;
  return typeof error?.code === 'string' && typeof error?.message === 'string';
}

/** Codes after which the mini-program should fetch a fresh `uni.login` code and try once more by itself. */
export const RELOGIN_CODES: readonly ErrorCode[] = ['code_already_used', 'code_invalid'];
