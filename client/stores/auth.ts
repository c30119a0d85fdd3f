import { defineStore } from 'pinia';
import type { LoginResponse, PublicUser } from '../../shared/api';

/** Storage key of the persisted session (uni.setStorageSync). */
export const AUTH_STORAGE_KEY = 'auth.session';
/** Storage key: users who chose 跳过 on the profile page on this device (remembered). */
export const PROFILE_SKIPPED_KEY = 'auth.profileSkipped';

interface PersistedSession {
  token: string;
  expiresAt: string;
  user: PublicUser | null;
}

interface AuthState {
  token: string | null;
  expiresAt: string | null;
  user: PublicUser | null;
  /** ids of users who skipped the profile page */
  profileSkipped: string[];
}

function readSkipped(): string[] {
  try {
    const raw = uni.getStorageSync(PROFILE_SKIPPED_KEY) as unknown;
    return Array.isArray(raw) ? raw.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

function readPersisted(): AuthState {
  const profileSkipped = readSkipped();
  try {
    const raw = uni.getStorageSync(AUTH_STORAGE_KEY) as PersistedSession | string | '';
    const value: PersistedSession | null = typeof raw === 'string' ? (raw ? JSON.parse(raw) : null) : raw;
    if (value && typeof value.token === 'string' && typeof value.expiresAt === 'string' && Date.parse(value.expiresAt) > Date.now()) {
      return { token: value.token, expiresAt: value.expiresAt, user: value.user ?? null, profileSkipped };
    }
  } catch {
    // unreadable storage: start logged out
  }
  return { token: null, expiresAt: null, user: null, profileSkipped };
}

export const useAuthStore = defineStore('auth', {
  state: (): AuthState => readPersisted(),
  getters: {
    /** A token that has not passed its expiry. */
    isLoggedIn: (state): boolean => !!state.token && !!state.expiresAt && Date.parse(state.expiresAt) > Date.now(),
    /** true when the profile page should be offered: incomplete and not skipped by this user. */
    needsProfile: (state): boolean => !!state.user && !state.user.profileComplete && !state.profileSkipped.includes(state.user.id),
  },
  actions: {
    /** Re-reads the persisted session (app start). */
    restore() {
      this.$patch(readPersisted());
    },
    setSession(res: Pick<LoginResponse, 'token' | 'expiresAt' | 'user'>) {
      this.token = res.token;
      this.expiresAt = res.expiresAt;
      this.user = res.user;
      this.persist();
    },
    setUser(user: PublicUser) {
      this.user = user;
      this.persist();
    },
    /** Forgets the token (and user): logout, or the server no longer accepts it. */
    clear() {
      this.token = null;
      this.expiresAt = null;
      this.user = null;
      try {
        uni.removeStorageSync(AUTH_STORAGE_KEY);
      } catch {
        // nothing to remove
      }
    },
    skipProfile() {
      if (!this.user || this.profileSkipped.includes(this.user.id)) return;
      this.profileSkipped = [...this.profileSkipped, this.user.id].slice(-20);
      uni.setStorageSync(PROFILE_SKIPPED_KEY, this.profileSkipped);
    },
    persist() {
      if (!this.token || !this.expiresAt) return;
      const value: PersistedSession = { token: this.token, expiresAt: this.expiresAt, user: this.user ? { ...this.user } : null };
      uni.setStorageSync(AUTH_STORAGE_KEY, value);
    },
  },
});
