import type { GroupProfile } from '@chatroom/server/protocol';
import { type ComputedRef, computed, onUnmounted, ref, watch } from 'vue';
import { silencedText } from '../lib/group-view';

/**
 * Why the user may not speak in a room now (`你已被禁言，至 14:30`, `全员禁言中…`), or '' when they may:
 * for the chat's input bar. It changes by itself when the mute ends.
 */
export function useSilenced(group: () => Omit<GroupProfile, 'roomid'> | undefined): ComputedRef<string> {
  const now = ref(Date.now());
  let timer: ReturnType<typeof setTimeout> | undefined;
  watch(
    () => group()?.mutedUntil,
    (until) => {
      clearTimeout(timer);
      now.value = Date.now();
      if (until !== undefined && until > now.value) timer = setTimeout(() => (now.value = Date.now()), until - now.value + 50);
    },
    { immediate: true },
  );
  onUnmounted(() => clearTimeout(timer));
  return computed(() => silencedText(group(), now.value));
}
