import type { KeyValueStorage } from './storage';

/** uni storage (localStorage on H5, wx storage on the mini-program). Values are stored as JSON strings. */
export class UniStorage implements KeyValueStorage {
  get<T>(key: string): T | undefined {
    const raw = uni.getStorageSync(key) as unknown;
    if (raw === '' || raw === undefined || raw === null) return undefined;
    try {
      return JSON.parse(String(raw)) as T;
    } catch {
      return undefined;
    }
  }

  set(key: string, value: unknown): void {
    uni.setStorageSync(key, JSON.stringify(value));
  }

  remove(key: string): void {
    uni.removeStorageSync(key);
  }

  keys(): string[] {
    return uni.getStorageInfoSync().keys;
  }
}
