/**
 * WeChat privacy agreement (mandatory since 2023-10-17; manifest sets `__usePrivacyCheck__`).
 * Before privacy APIs/components (getUserProfile, chooseAvatar, `<input type="nickname">`,
 * getPhoneNumber…) a person must have agreed to the mini-program's 《用户隐私保护指引》:
 * - the popup shows ON DEMAND only: `onNeedPrivacyAuthorization` fires when a privacy
 *   API/component is used first → popup; the pending API continues after
 *   `resolve({ event: 'agree', buttonId })` and fails at once (errno 104) after 'disagree'.
 *   Page show only reads the contract name (`getPrivacySetting`): a person who refused is not
 *   asked again on every page show, only when they use such a feature again;
 * - the popup's agree button is `<button open-type="agreePrivacyAuthorization">`.
 * Errors: errno 104 (and 103) "privacy permission is not authorized" = not agreed → a message;
 * errno 112 "api scope is not declared in the privacy agreement" = the developer did not
 * declare the data type in the MP console → a clear message (nothing the person can fix).
 */
import { ref } from 'vue';
import { onHide, onShow, onUnload } from '@dcloudio/uni-app';
import { isMpWeixin } from './env';

export const PRIVACY_AGREE_BUTTON_ID = 'privacy-agree';
export const MSG_PRIVACY_NOT_AGREED = '请先阅读并同意《用户隐私保护指引》后再使用头像、昵称等功能';
export const MSG_PRIVACY_DISAGREED = '未同意《用户隐私保护指引》，将无法使用头像、昵称等功能';
export const MSG_PRIVACY_NOT_DECLARED = '该功能未在小程序《用户隐私保护指引》中声明，暂时无法使用，请联系开发者';

export type PrivacyErrorKind = 'not_agreed' | 'not_declared';

/** Classifies a wx API failure (`{ errno, errMsg }`) that comes from the privacy rules. */
export function privacyErrorKind(error: unknown): PrivacyErrorKind | null {
  const { errno, errMsg } = (error ?? {}) as { errno?: number; errMsg?: string };
  const msg = String(errMsg ?? '').toLowerCase();
  if (errno === 112 || msg.includes('api scope is not declared in the privacy agreement')) return 'not_declared';
  if (errno === 104 || errno === 103 || msg.includes('privacy permission is not authorized')) return 'not_agreed';
  return null;
}

type PrivacyResolve = (result: { event: 'agree' | 'disagree'; buttonId?: string }) => void;

/** Page-level privacy state for PrivacyPopup. Checks on every page show (mp-weixin only). */
export function usePrivacy(options: { onDisagree?: () => void } = {}) {
  const visible = ref(false);
  const contractName = ref('《用户隐私保护指引》');
  const message = ref('');
  let waiting: PrivacyResolve[] = [];

  function check(): void {
    if (!isMpWeixin() || typeof uni.getPrivacySetting !== 'function') return;
    uni.getPrivacySetting({
      success(res) {
        if (res.privacyContractName) contractName.value = res.privacyContractName;
      },
      fail() {
        // old base library (< 2.32.3): nothing to check
      },
    });
  }

  function listen(): void {
    if (!isMpWeixin() || typeof uni.onNeedPrivacyAuthorization !== 'function') return;
    // One listener per app: registering on each page show binds it to the visible page.
    // (@dcloudio/types declares the callback's first argument wrongly: it is the resolve function)
    uni.onNeedPrivacyAuthorization((resolve: unknown) => {
      waiting.push(resolve as PrivacyResolve);
      visible.value = true;
    });
  }

  /** A privacy failure from some API: popup for "not agreed", a message for "not declared". */
  function handleError(error: unknown): PrivacyErrorKind | null {
    const kind = privacyErrorKind(error);
    // not agreed: the person was asked (onNeedPrivacyAuthorization) and refused, or the base
    // library had no listener — say so; the popup is not forced open again.
    if (kind === 'not_agreed') {
      if (!message.value) message.value = MSG_PRIVACY_NOT_AGREED;
    } else if (kind === 'not_declared') {
      message.value = MSG_PRIVACY_NOT_DECLARED;
    }
    return kind;
  }

  function agree(): void {
    for (const resolve of waiting) resolve({ buttonId: PRIVACY_AGREE_BUTTON_ID, event: 'agree' });
    waiting = [];
    visible.value = false;
    message.value = '';
  }

  function disagree(): void {
    for (const resolve of waiting) resolve({ event: 'disagree' });
    waiting = [];
    visible.value = false;
    message.value = MSG_PRIVACY_DISAGREED;
    options.onDisagree?.();
  }

  function openContract(): void {
    if (isMpWeixin() && typeof uni.openPrivacyContract === 'function') uni.openPrivacyContract({});
  }

  onShow(() => {
    check();
    listen();
  });
  // a popup left open must not keep an API pending forever
  const release = () => {
    if (waiting.length) disagree();
  };
  onHide(release);
  onUnload(release);

  return { visible, contractName, message, agree, disagree, openContract, handleError, check };
}
