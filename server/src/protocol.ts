/**
 * The wire protocol: every frame's shape, event names, error codes and close codes.
 *
 * Shared by the server and the mobile client (`@chatroom/server/protocol`), so it must stay free of
 * imports and of runtime-specific code. Documented in docs/protocol.md; keep the two in step.
 *
 * Every frame is a JSON text frame: an object with an `event` field. The set is a superset of the
 * course's events (auth, login, message, heartbeat, logout, noauth, num/total), so the course's own
 * browser client works unchanged.
 */

export const PROTOCOL_VERSION = 1;

/** Event names, client to server. */
export enum ClientEvent {
  Auth = 'auth',
  Login = 'login',
  Join = 'join',
  Leave = 'leave',
  Message = 'message',
  Heartbeat = 'heartbeat',
  Members = 'members',
  Rooms = 'rooms',
  History = 'history',
  // Groups (docs/protocol.md#groups): the room's profile, roles and moderation.
  Create = 'create',
  Group = 'group',
  Update = 'update',
  Invite = 'invite',
  Kick = 'kick',
  Ban = 'ban',
  Unban = 'unban',
  Mute = 'mute',
  Admin = 'admin',
  Transfer = 'transfer',
  Link = 'link',
  Revoke = 'revoke',
}

/**
 * Event names, server to client. `authed`, `joined`, `left` and `ack` answer only requests that
 * carry an `id` (the course's client sends none and would render them as chat lines).
 */
export enum ServerEvent {
  Welcome = 'welcome',
  Authed = 'authed',
  NoAuth = 'noauth',
  Login = 'login',
  Logout = 'logout',
  Joined = 'joined',
  Left = 'left',
  Message = 'message',
  Ack = 'ack',
  Heartbeat = 'heartbeat',
  Members = 'members',
  Rooms = 'rooms',
  History = 'history',
  Error = 'error',
  /** A room's profile as the asker sees it: the reply to every group request but `link`, and after `joined`. */
  Group = 'group',
  /** A new invite link (the reply to `link`). */
  Link = 'link',
  /** To every connection of a user someone added to a room. */
  Invited = 'invited',
}

/** Codes carried by `{event:"error"}`. The connection stays open after any of them. */
export enum ErrorCode {
  /** The frame is not valid JSON, or not a JSON object. */
  InvalidJson = 4400,
  /** A binary frame; the protocol is JSON text only. */
  BinaryFrame = 4401,
  /** `event` is missing or names no known event. */
  UnknownEvent = 4402,
  /** A field is missing, of the wrong type, or out of range. */
  InvalidField = 4403,
  /** The message text is longer than the server's limit (the frame itself was within maxPayload). */
  TooLarge = 4413,
  /** The connection has not joined the room it names. */
  NotMember = 4404,
  /** No `roomid` and the connection is in zero or several rooms. */
  AmbiguousRoom = 4405,
  /** The frame claims a `uid` or `name` other than the token's. */
  ForgedIdentity = 4406,
  /** Reserved. A token that is refused is answered with `noauth` (the course's event), not this code. */
  AuthFailed = 4407,
  /** Too many frames; slow down. Persistent abuse is closed with CloseCode.RateLimited. */
  RateLimited = 4429,
  /**
   * Too many rooms: on this connection (ROOMS_PER_CONNECTION), for this user (ROOMS_PER_USER), rooms
   * or conversations created lately (ROOMS_CREATED_PER_HOUR, DIRECT_PEERS_PER_HOUR), or on this
   * server (ROOM_LIMIT, USER_LIMIT). The message says which.
   */
  TooManyRooms = 4430,
  /** The asker's role in the room does not allow this (docs/protocol.md#groups names the role needed). */
  Forbidden = 4409,
  /** The sender is muted in the room: `until` says when it ends (absent while the whole room is muted). */
  Muted = 4416,
  /** Banned from the room: the asker (join, link), or the user named (invite). */
  Banned = 4417,
  /** The room is at a limit: ROOM_MAX_MEMBERS members, ROOM_MAX_ADMINS admins, or GROUP_LINKS_MAX links. */
  RoomFull = 4418,
  /** The invite link is unknown, expired or revoked, or the room it names does not exist. */
  BadLink = 4419,
  /** The user the request names is not a member of the room, or (invite) unknown to the server. */
  NoSuchUser = 4420,
  /** The store is unreachable: the message was NOT accepted and no ack was sent; resend it. */
  Unavailable = 4503,
}

/** WebSocket close codes the server uses. 1000–1015 are the RFC 6455 ones. */
export enum CloseCode {
  Normal = 1000,
  /** Server shutting down or restarting: reconnect (to another node). */
  GoingAway = 1001,
  /** A frame over maxPayload; closed by the receiver before it is buffered whole. */
  MessageTooBig = 1009,
  /** The token expired on a live connection and was not renewed with a new `auth` frame. */
  AuthExpired = 4001,
  /** No successful `auth` within the auth timeout. */
  AuthTimeout = 4003,
  /** The client stopped answering heartbeats. Usually seen as 1006: the socket is terminated. */
  HeartbeatTimeout = 4004,
  /** The client reads too slowly and its send buffer passed the limit (Centrifugo uses 3008). */
  SlowConsumer = 4008,
  /** Kept sending after being rate limited. */
  RateLimited = 4029,
}

export const HEARTBEAT_PING = 'ping';
export const HEARTBEAT_PONG = 'pong';

/**
 * Room ids: 1–140 chars of letters, digits and `_ - . : @ |`. `dm:` is reserved for direct chats,
 * whose id is `dm:<uid>|<uid>` (uids are at most 64 chars).
 */
export const ROOM_ID_PATTERN = /^[\w\-.:@|]{1,140}$/;
export const DIRECT_ROOM_PREFIX = 'dm:';
/**
 * Ids the server chooses for `create` (`g:` and 22 letters/digits): a `join` never creates a room
 * with such an id, so for them a private room and no room answer a stranger alike.
 */
export const GROUP_ROOM_PREFIX = 'g:';
/** The room a `login` without `roomid` joins (the course's single-room client). */
export const DEFAULT_ROOM_ID = 'lobby';

/** The conversation id both members of a direct chat share: sorted uids, so it is the same on both sides. */
export function directRoomId(uidA: string, uidB: string): string {
  return uidA < uidB ? `${DIRECT_ROOM_PREFIX}${uidA}|${uidB}` : `${DIRECT_ROOM_PREFIX}${uidB}|${uidA}`;
}

export function isDirectRoomId(roomid: string): boolean {
  return roomid.startsWith(DIRECT_ROOM_PREFIX);
}

export function isGroupRoomId(roomid: string): boolean {
  return roomid.startsWith(GROUP_ROOM_PREFIX);
}

/** A room's title (群名称): 1–30 visible characters (code points), no line breaks. */
export const GROUP_TITLE_MAX_CHARS = 30;
/** A room's notice (群公告): at most 1,000 characters; empty clears it. */
export const GROUP_NOTICE_MAX_CHARS = 1000;
/** Longest mute, and longest lifetime of an invite link: 30 days, in seconds. */
export const GROUP_DURATION_MAX_SECONDS = 30 * 24 * 3600;
/** An invite link's lifetime when `link` names none: 7 days, in seconds. */
export const GROUP_LINK_DEFAULT_SECONDS = 7 * 24 * 3600;
/** Invite links a room keeps at once (expired ones do not count). */
export const GROUP_LINKS_MAX = 20;

/** `last` in a `rooms` summary carries at most this many characters (code points) of its text. */
export const PREVIEW_MAX_CHARS = 100;

/** A message cut to a conversation-list preview (PREVIEW_MAX_CHARS code points, then "…"). */
export function previewOf<M extends { message: string }>(message: M): M {
  if (message.message.length <= PREVIEW_MAX_CHARS) return message;
  const points = Array.from(message.message);
  return points.length <= PREVIEW_MAX_CHARS ? message : { ...message, message: `${points.slice(0, PREVIEW_MAX_CHARS).join('')}…` };
}

// ---------------------------------------------------------------------------------------------
// Client to server frames

/** Fields any client frame may carry. */
export interface FrameBase {
  /** The client's id for this request: replies and errors carry it back as `ref`; at most 64 characters. */
  id?: string;
  /** The course's client repeats its uid and name in frames: accepted only when equal to the token's. */
  uid?: string;
  name?: string;
}

export interface AuthFrame extends FrameBase {
  event: ClientEvent.Auth | 'auth';
  /** The JWT. */
  message: string;
}

/** `login` is the course's name for joining a room; `join` is the same, for a further room. */
export interface JoinFrame extends FrameBase {
  event: ClientEvent.Login | ClientEvent.Join | 'login' | 'join';
  roomid: string;
  /** Replay what the room sent after this seq (resume). Without it, the offline backlog is replayed. */
  since?: number;
  /** The `epoch` of the `joined` that `since` came from: when the server's differs, `since` is void. */
  epoch?: string;
  /** An invite link's key (from a `link` reply): lets a non-member into a private room. */
  link?: string;
}

export interface LeaveFrame extends FrameBase {
  event: ClientEvent.Leave | 'leave';
  roomid: string;
}

export interface SendFrame extends FrameBase {
  event: ClientEvent.Message | 'message';
  message: string;
  /** The room; optional when the connection is in exactly one room. */
  roomid?: string;
  /** A direct message to this user instead of a room. */
  to?: string;
  /** (from FrameBase) `id`, the client's own message id (a uuid), makes the send idempotent and asks for an `ack`. */
}

export interface HeartbeatFrame extends FrameBase {
  event: ClientEvent.Heartbeat | 'heartbeat';
  message: typeof HEARTBEAT_PING | typeof HEARTBEAT_PONG | string;
}

export interface MembersRequest extends FrameBase {
  event: ClientEvent.Members | 'members';
  roomid: string;
}

export interface RoomsRequest extends FrameBase {
  event: ClientEvent.Rooms | 'rooms';
}

/**
 * A page of a room's or direct chat's history, oldest first. `before` alone: the newest `limit`
 * messages below it (scrolling up; without `before` or `after`, the newest). `after` (with or
 * without `before`): the oldest `limit` messages above it, the next page forward (catching up).
 * Page on with the last seq received until it reaches `lastSeq` of the reply.
 */
export interface HistoryRequest extends FrameBase {
  event: ClientEvent.History | 'history';
  roomid: string;
  /** Only messages with seq below this one. */
  before?: number;
  /** Only messages with seq above this one. */
  after?: number;
  /** 1–100, default 50; outside that range the request is refused with InvalidField. */
  limit?: number;
}

// Groups. `user` names the member a request is about (`uid` is taken: FrameBase's own, checked
// against the token). Every request is answered with `group` (the room as the asker now sees it),
// except `link` (answered with `link`), or with an error.

/** A new room with an id of the server's choice (`g:…`); the asker is its owner and only member. */
export interface CreateRequest extends FrameBase {
  event: ClientEvent.Create | 'create';
  /** The title people see (GROUP_TITLE_MAX_CHARS). */
  title: string;
  /** Private: only members' invitations and invite links let anyone in. Default false (open). */
  private?: boolean;
}

/** The room's profile. A non-member sees an open room's preview, or a private room's with a valid `link`. */
export interface GroupRequest extends FrameBase {
  event: ClientEvent.Group | 'group';
  roomid: string;
  link?: string;
}

/** Owner and admins: change the profile. At least one field. Each change is announced to the room. */
export interface UpdateRequest extends FrameBase {
  event: ClientEvent.Update | 'update';
  roomid: string;
  title?: string;
  /** The notice (群公告); announced with @所有人. Empty clears it. */
  notice?: string;
  private?: boolean;
  /** 全员禁言: only the owner and admins may send while it is on. */
  muteAll?: boolean;
}

/** invite: any member adds a user; kick, ban, unban: owner and admins; transfer: the owner. */
export interface MemberRequest extends FrameBase {
  event: ClientEvent.Invite | ClientEvent.Kick | ClientEvent.Ban | ClientEvent.Unban | ClientEvent.Transfer | 'invite' | 'kick' | 'ban' | 'unban' | 'transfer';
  roomid: string;
  /** The uid of the user it is about. */
  user: string;
}

/** Owner and admins: mute a member of lower rank for `seconds` (0 lifts the mute). */
export interface MuteRequest extends FrameBase {
  event: ClientEvent.Mute | 'mute';
  roomid: string;
  user: string;
  /** 0 to GROUP_DURATION_MAX_SECONDS. */
  seconds: number;
}

/** The owner names (`admin: true`) or removes an admin. */
export interface AdminRequest extends FrameBase {
  event: ClientEvent.Admin | 'admin';
  roomid: string;
  user: string;
  admin: boolean;
}

/** Owner and admins: a new invite link (QR code content), valid for `seconds`. */
export interface LinkRequest extends FrameBase {
  event: ClientEvent.Link | 'link';
  roomid: string;
  /** 1 to GROUP_DURATION_MAX_SECONDS; default GROUP_LINK_DEFAULT_SECONDS. */
  seconds?: number;
}

/** Owner and admins: the link no longer lets anyone in. */
export interface RevokeRequest extends FrameBase {
  event: ClientEvent.Revoke | 'revoke';
  roomid: string;
  link: string;
}

export type GroupFrame = CreateRequest | GroupRequest | UpdateRequest | MemberRequest | MuteRequest | AdminRequest | LinkRequest | RevokeRequest;

export type ClientFrame =
  | GroupFrame
  | AuthFrame
  | JoinFrame
  | LeaveFrame
  | SendFrame
  | HeartbeatFrame
  | MembersRequest
  | RoomsRequest
  | HistoryRequest;

// ---------------------------------------------------------------------------------------------
// Server to client frames

/** First frame on a connection whose URL carried `?token=` or `?v=1`. */
export interface WelcomeEvent {
  event: ServerEvent.Welcome;
  protocol: number;
  heartbeatMs: number;
  /** Set when the token came in the upgrade URL and was accepted. */
  uid?: string;
  name?: string;
}

export interface AuthedEvent {
  event: ServerEvent.Authed;
  uid: string;
  name: string;
  /** Token expiry, ms since the epoch. */
  expiresAt: number;
  ref?: string;
}

export interface NoAuthEvent {
  event: ServerEvent.NoAuth;
  message: string;
  ref?: string;
}

export interface PresenceEvent {
  event: ServerEvent.Login | ServerEvent.Logout;
  name: string;
  uid: string;
  roomid: string;
  /** Members of the room online now. */
  num: number;
  /** Members of the room in all, online or not. */
  total: number;
  /** On logout: why. `leave` and `kick` (removed or banned by an admin) also end the membership; the others keep it. */
  reason?: 'leave' | 'close' | 'timeout' | 'kick';
}

/** Reply to login/join, after any replayed messages. */
export interface JoinedEvent {
  event: ServerEvent.Joined;
  roomid: string;
  num: number;
  total: number;
  /** The newest seq of the room when the replay ended. */
  lastSeq: number;
  /** How many messages were replayed before this frame. */
  replayed: number;
  /** True when kept history no longer reaches back to what was asked for: earlier messages are gone. */
  gap: boolean;
  /** Seqs are only comparable within one epoch; it changes when the server lost its state. */
  epoch?: string;
  /** The room as the joiner sees it (title, notice to show on entry, role, mute), without the admin lists. */
  group?: GroupProfile;
  ref?: string;
}

export interface LeftEvent {
  event: ServerEvent.Left;
  roomid: string;
  /** Set when the user did not leave by themselves: removed (`kick`) or banned (`ban`) by `by`. */
  reason?: 'kick' | 'ban';
  by?: { uid: string; name: string };
  ref?: string;
}

export interface ChatMessage {
  event: ServerEvent.Message;
  /** Server-set uuid, or the client's own `id` when it gave one. */
  id: string;
  /** Room id, or the direct chat's `dm:` id. */
  roomid: string;
  /** Per room, strictly increasing, from 1. */
  seq: number;
  /** Server time, ms since the epoch. */
  ts: number;
  uid: string;
  name: string;
  message: string;
  /** Direct messages only: the recipient's uid. */
  to?: string;
  num?: number;
  total?: number;
  /** True on messages replayed from history or the offline backlog. */
  replay?: boolean;
  /**
   * A system notice of a group change, stored in the room's seq order like any message; `uid` and
   * `name` are the member who made the change, `message` the notice in words (Chinese).
   */
  system?: GroupNotice;
}

export type GroupRole = 'owner' | 'admin' | 'member';

/** What a system notice tells; `message` says the same in words. */
export type GroupNoticeType =
  | 'created'
  /** `user` was added by the sender. */
  | 'invited'
  /** The sender came in by an invite link. */
  | 'linked'
  /** `user` was removed by the sender; `banned` when banned too. */
  | 'kicked'
  /** `user` muted until `until`. */
  | 'muted'
  | 'unmuted'
  /** 全员禁言 turned on (`on: true`) or off. */
  | 'muteAll'
  /** `user` became an admin, or (`unadmin`) no longer is one. */
  | 'admin'
  | 'unadmin'
  /** `user` is the new owner (handed over, or the owner left). */
  | 'owner'
  /** The title is now `text`. */
  | 'title'
  /** The notice is now `text` (empty: cleared); `mentionAll` when it was announced to everyone. */
  | 'notice'
  /** The room became private (`on: true`) or open. */
  | 'private';

export interface GroupNotice {
  type: GroupNoticeType;
  user?: { uid: string; name: string };
  until?: number;
  text?: string;
  banned?: boolean;
  on?: boolean;
  /** @所有人: the message is for every member's attention (a new notice). */
  mentionAll?: boolean;
}

export interface AckEvent {
  event: ServerEvent.Ack;
  id: string;
  seq: number;
  roomid: string;
  ts: number;
  /** True when this id had been accepted before: nothing was delivered again. */
  duplicate?: boolean;
}

export interface HeartbeatEvent {
  event: ServerEvent.Heartbeat;
  message: typeof HEARTBEAT_PING;
}

export interface MemberInfo {
  uid: string;
  name: string;
  online: boolean;
}

export interface MembersEvent {
  event: ServerEvent.Members;
  roomid: string;
  members: MemberInfo[];
  num: number;
  total: number;
  ref?: string;
}

export interface RoomSummary {
  roomid: string;
  num: number;
  total: number;
  lastSeq: number;
  /** The newest kept message, its text cut to PREVIEW_MAX_CHARS (a preview for the conversation list). */
  last?: ChatMessage;
  /** Direct chats: the other member. */
  peer?: { uid: string; name: string };
  /** Rooms with a title (created with `create`, or given one with `update`). */
  title?: string;
  /** Present (true) for private rooms. */
  private?: boolean;
}

export interface RoomsEvent {
  event: ServerEvent.Rooms;
  rooms: RoomSummary[];
  ref?: string;
}

export interface HistoryEvent {
  event: ServerEvent.History;
  roomid: string;
  /** Oldest first. */
  messages: ChatMessage[];
  /** True when messages of the asked range existed but are no longer kept. */
  gap: boolean;
  /** The room's newest seq: paging forward is done when the last message has it. */
  lastSeq: number;
  ref?: string;
}

export interface ErrorEvent {
  event: ServerEvent.Error;
  code: ErrorCode;
  message: string;
  /** Muted (4410): when the mute ends, ms since the epoch. */
  until?: number;
  /** The `id` of the frame that caused it, when it had one. */
  ref?: string;
}

/** A room as the asker sees it. Members see everything but the admin lists; a preview (no `role`) less. */
export interface GroupProfile {
  roomid: string;
  /** The title; the room id when it has none. */
  title: string;
  private: boolean;
  num: number;
  total: number;
  /** ROOM_MAX_MEMBERS. */
  maxMembers: number;
  /** The asker's role; absent in a preview (the asker is not a member). */
  role?: GroupRole;
  // Members only:
  /** The notice, who set it and when (absent: none). */
  notice?: { text: string; uid: string; name: string; ts: number };
  muteAll?: boolean;
  /** The owner's uid; absent when the room has none (its last member left). */
  owner?: string;
  /** Admins' uids. */
  admins?: string[];
  /** The asker's own mute, while it lasts (ms since the epoch). */
  mutedUntil?: number;
  // The owner and admins only:
  mutes?: Array<{ uid: string; name: string; until: number }>;
  bans?: Array<{ uid: string; name: string }>;
  /** Live invite links. */
  links?: Array<{ link: string; expiresAt: number }>;
}

export interface GroupEvent extends GroupProfile {
  event: ServerEvent.Group;
  ref?: string;
}

export interface LinkEvent {
  event: ServerEvent.Link;
  roomid: string;
  /** The key: `join`/`group` with `roomid` and `link` let its holder in until `expiresAt`. */
  link: string;
  expiresAt: number;
  ref?: string;
}

export interface InvitedEvent {
  event: ServerEvent.Invited;
  roomid: string;
  title: string;
  by: { uid: string; name: string };
}

export type ServerFrame =
  | GroupEvent
  | LinkEvent
  | InvitedEvent
  | WelcomeEvent
  | AuthedEvent
  | NoAuthEvent
  | PresenceEvent
  | JoinedEvent
  | LeftEvent
  | ChatMessage
  | AckEvent
  | HeartbeatEvent
  | MembersEvent
  | RoomsEvent
  | HistoryEvent
  | ErrorEvent;

/** Maps each server event name to its frame type, for typed client event emitters. */
export type ServerEventMap = {
  [E in ServerFrame as E['event']]: E;
};

// ---------------------------------------------------------------------------------------------
// HTTP API

/**
 * `POST /api/login` body (development login). Without `refreshToken` it creates a new account with a
 * uid of the server's choice; with the `refreshToken` of an earlier login it renews that account.
 */
export interface LoginRequest {
  name: string;
  refreshToken?: string;
}

export interface LoginResponse {
  token: string;
  uid: string;
  name: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** Renews this account at `/api/login` (keep it private: it is the account). */
  refreshToken: string;
}

export const NAME_MAX_LENGTH = 32;
