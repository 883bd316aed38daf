export const AVATAR_COLORS = ['#07c160', '#10aeff', '#fa9d3b', '#fa5151', '#6467f0', '#1aad19', '#576b95', '#ff6a95'];

/** A stable colour per user: the protocol carries no avatar, so everyone derives the same one from the uid. */
export function avatarColor(uid: string): string {
  let hash = 0;
  for (let i = 0; i < uid.length; i++) hash = (hash * 31 + uid.charCodeAt(i)) >>> 0;
  return AVATAR_COLORS[hash % AVATAR_COLORS.length];
}

/** Up to two initials: "Alice Bob" -> "AB", "张三" -> "张三"'s last character, as WeChat-like tiles do. */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '?';
  if (/^[\u4e00-\u9fff]/.test(words[0])) return [...words[0]].slice(-2).join('');
  if (words.length === 1) return [...words[0]].slice(0, 2).join('').toUpperCase();
  return (words[0][0] + words[1][0]).toUpperCase();
}
