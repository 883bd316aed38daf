/**
 * Which slice of a long timeline the chat page renders: at most `size` items, so a chat of 10,000
 * messages costs as many nodes as one of 100. It follows the newest items while the reader is at
 * the bottom; scrolled up, it is pinned to an item (by key, so items added above or below do not
 * move it) and moves `step` items at a time when the reader reaches one of its ends.
 */
export interface WindowState {
  /** Key of the first rendered item; undefined: follow the newest. */
  startKey: string | undefined;
}

export interface Keyed {
  key: string;
}

export const WINDOW_SIZE = 80;
export const WINDOW_STEP = 40;

export function windowRange(items: readonly Keyed[], state: WindowState, size = WINDOW_SIZE): { start: number; end: number } {
  const start = state.startKey === undefined ? -1 : indexOfKey(items, state.startKey);
  if (start < 0) return { start: Math.max(0, items.length - size), end: items.length };
  return { start, end: Math.min(items.length, start + size) };
}

/** Pins the window where it is (the reader scrolled away from the newest). */
export function pin(items: readonly Keyed[], state: WindowState, size = WINDOW_SIZE): WindowState {
  const { start } = windowRange(items, state, size);
  return { startKey: items[start]?.key };
}

/**
 * The reader reached the top of the window: `step` earlier items come in (as many go at the
 * bottom). Returns the new state and the key to keep in view (the item that was first), or
 * undefined when the window already starts at the first item.
 */
export function shiftUp(items: readonly Keyed[], state: WindowState, size = WINDOW_SIZE, step = WINDOW_STEP): { state: WindowState; anchor: string } | undefined {
  const { start } = windowRange(items, state, size);
  if (start === 0) return undefined;
  return { state: { startKey: items[Math.max(0, start - step)].key }, anchor: items[start].key };
}

/** The reader reached the bottom of a pinned window: `step` later items come in, or it follows the newest again. */
export function shiftDown(items: readonly Keyed[], state: WindowState, size = WINDOW_SIZE, step = WINDOW_STEP): { state: WindowState; anchor: string } | undefined {
  const { start, end } = windowRange(items, state, size);
  if (state.startKey === undefined || end >= items.length) return undefined;
  const next = start + step;
  const anchor = items[end - 1].key;
  return { state: { startKey: next + size >= items.length ? undefined : items[next].key }, anchor };
}

/** Whether the window shows the newest item. */
export function showsNewest(items: readonly Keyed[], state: WindowState, size = WINDOW_SIZE): boolean {
  return windowRange(items, state, size).end >= items.length;
}

function indexOfKey(items: readonly Keyed[], key: string): number {
  for (let i = 0; i < items.length; i++) if (items[i].key === key) return i;
  return -1;
}
