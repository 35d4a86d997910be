// Declarations of chat-client.js for TypeScript projects (the module itself carries the
// same types as JSDoc). Shapes follow the OpenAPI schema at /api/schema/.

export type MembershipRole = "TENANT_ADMIN" | "MANAGEMENT_TEAM" | "PARTICIPANT";
export type ChannelType = "SUPPORT" | "TEAM" | "TOURNAMENT" | "PLATFORM_SUPPORT";
export type ChannelStatus = "ACTIVE" | "RESOLVED" | "ESCALATED" | "ARCHIVED";
export type TicketStatus = "OPEN" | "IN_PROGRESS" | "WAITING_ON_USER" | "RESOLVED" | "CLOSED";
export type TicketPriority = "LOW" | "MEDIUM" | "HIGH" | "URGENT";
export type TicketCategory =
  | "TECHNICAL" | "BILLING" | "FEATURE_REQUEST" | "TOURNAMENT_ISSUE" | "ACCOUNT" | "OTHER";
export type ParticipantRole = "ADMIN" | "MEMBER" | "OBSERVER";

export interface UserBrief { id: number; displayName: string }
export interface User { id: number; email: string; displayName: string; isSuperAdmin: boolean }

export interface Message {
  id: number;
  channelId: string;
  seq: number;
  /** The position not counting internal notes: consecutive where `seq` skips notes. */
  publicSeq: number;
  sender: UserBrief | null;
  senderType: string;
  /** NOTE: an internal note, shown to the ticket's staff only. */
  kind: "USER" | "SYSTEM" | "NOTE";
  content: string | null;
  createdAt: string;
  removedAt: string | null;
  removedBy: number | null;
}

export interface Ticket {
  requesterId: number;
  category: TicketCategory;
  priority: TicketPriority;
  status: TicketStatus;
  firstResponseAt: string | null;
  resolvedAt: string | null;
  closedAt: string | null;
  rating: number | null;
  ratingComment: string;
  ratedAt: string | null;
  createdAt: string;
  sla: Sla | null;
}

/** A ticket's SLA targets: due times, breaches, whether the clock stands still. */
export interface Sla {
  firstResponseDueAt: string | null;
  resolutionDueAt: string | null;
  dueAt: string | null;
  firstResponseBreachedAt: string | null;
  resolutionBreachedAt: string | null;
  breached: boolean;
  paused: boolean;
}

export interface CannedResponse { id: number; shortcut: string; title: string; body: string; createdBy: number; createdAt: string; updatedAt: string }

export interface ReportFigures {
  opened: number;
  resolved: number;
  escalated: number;
  firstResponseSeconds: { median: number | null; p90: number | null };
  resolutionSeconds: { median: number | null; p90: number | null };
  slaBreachRate: number | null;
  csat: { average: number | null; count: number };
}

export interface Report { from: string; to: string; groupBy: string | null; totals: ReportFigures; groups: (ReportFigures & { key: string | null })[] }

export interface Channel {
  id: string;
  type: ChannelType;
  status: ChannelStatus;
  subject: string;
  contextId: string | null;
  tenant: string | null;
  createdBy: number;
  assignedTo: UserBrief | null;
  escalationReason: string;
  escalatedAt: string | null;
  resolvedAt: string | null;
  archivedAt: string | null;
  createdAt: string;
  lastActivityAt: string;
  ticket: Ticket | null;
  lastMessage: Message | null;
  unreadCount: number | null;
  myRole: ParticipantRole | null;
}

export interface Participant { user: UserBrief; role: ParticipantRole; lastReadSeq: number; joinedAt: string }
export interface MessagePage { messages: Message[]; hasMore: boolean; direction: "older" | "newer" }
export interface ChannelDetail extends Channel { participants: Participant[]; messages: MessagePage }
export interface Member {
  id: number;
  displayName: string;
  email: string | null;
  role: MembershipRole;
  status: "ACTIVE" | "SUSPENDED";
  joinedAt: string;
}
export interface Invitation {
  id: number;
  email: string;
  role: MembershipRole;
  displayName: string;
  invitedBy: UserBrief | null;
  createdAt: string;
  expiresAt: string;
}
export interface InvitationPreview {
  email: string;
  role: MembershipRole;
  displayName: string;
  tenant: { slug: string; name: string; isPublic: boolean };
  expiresAt: string;
  /** True: accept with the account's own password; false: choose one. */
  existingAccount: boolean;
}
/** One of your sign-ins (`GET /api/auth/sessions`). */
export interface SessionInfo {
  id: number;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string;
  userAgent: string;
  current: boolean;
}
export interface Session { token: string; expiresAt: string; user: User; role: MembershipRole | null }
export interface Me {
  user: User;
  tenant: { slug: string; name: string; isPublic: boolean };
  role: MembershipRole | null;
}

export declare class ApiError extends Error {
  constructor(status: number, code: string, message: string, fields?: Record<string, string[]>, retryAfter?: number | null);
  /** HTTP status; 0 for a socket `error` frame or a network failure. */
  status: number;
  code: string;
  fields: Record<string, string[]>;
  /** Seconds to wait, on `rate_limited` and `server_busy`. */
  retryAfter: number | null;
}

export interface ApiOptions {
  baseUrl?: string;
  token?: () => string | null;
  onUnauthorized?: (error: ApiError) => void;
}

type Query = Record<string, unknown>;

export interface ChatApi {
  request(method: string, path: string, request?: { query?: Query; body?: unknown; raw?: boolean }): Promise<any>;
  login(email: string, password: string): Promise<Session>;
  me(): Promise<Me>;
  wsTicket(): Promise<{ ticket: string; expiresAt: string }>;
  logout(): Promise<null>;
  channels(query?: { type?: ChannelType; status?: ChannelStatus; contextId?: string; limit?: number; cursor?: string | null }): Promise<{ channels: Channel[]; next: string | null }>;
  openChannel(body: { type: ChannelType; participantIds?: number[]; subject?: string; category?: TicketCategory; priority?: TicketPriority; contextId?: string }): Promise<Channel>;
  channel(id: string): Promise<ChannelDetail>;
  archive(id: string): Promise<unknown>;
  messages(id: string, query?: { before?: number; after?: number; limit?: number }): Promise<MessagePage>;
  send(id: string, content: string, kind?: "USER" | "NOTE"): Promise<Message>;
  sendCanned(id: string, cannedResponseId: number): Promise<Message>;
  rate(id: string, rating: number, comment?: string): Promise<Channel>;
  cannedResponses(query?: { shortcut?: string }): Promise<{ cannedResponses: CannedResponse[] }>;
  createCannedResponse(body: { shortcut: string; title: string; body: string }): Promise<CannedResponse>;
  reports(query: { from: string; to: string; groupBy?: "day" | "category" | "priority" | "assignee" }): Promise<Report>;
  removeMessage(id: string, messageId: number): Promise<Message>;
  escalate(id: string, reason: string): Promise<Channel>;
  assign(id: string, assigneeId: number): Promise<Channel>;
  resolve(id: string): Promise<Channel>;
  updateTicket(id: string, fields: { status?: TicketStatus; priority?: TicketPriority; category?: TicketCategory }): Promise<Channel>;
  markRead(id: string, messageId: number): Promise<{ channelId: string; lastReadSeq: number; unreadCount: number }>;
  addParticipants(id: string, userIds: number[], role?: ParticipantRole): Promise<Participant[]>;
  unread(): Promise<{ total: number; channels: number }>;
  members(query?: { search?: string; role?: MembershipRole; status?: string; after?: string; limit?: number }): Promise<{ members: Member[]; next: string | null }>;
  changeRole(userId: number, role: MembershipRole): Promise<Member>;
  suspendMember(userId: number): Promise<Member>;
  reactivateMember(userId: number): Promise<Member>;
  removeMember(userId: number): Promise<null>;
  invitations(): Promise<{ invitations: Invitation[] }>;
  invite(body: { email: string; role: MembershipRole; displayName?: string }): Promise<Invitation>;
  revokeInvitation(id: number): Promise<null>;
  invitation(token: string): Promise<InvitationPreview>;
  acceptInvitation(body: { token: string; password?: string; displayName?: string }): Promise<Session>;
  changePassword(currentPassword: string, newPassword: string): Promise<null>;
  requestPasswordReset(email: string): Promise<{ detail: string }>;
  passwordReset(token: string): Promise<{ email: string; expiresAt: string }>;
  confirmPasswordReset(token: string, newPassword: string): Promise<null>;
  sessions(): Promise<{ sessions: SessionInfo[] }>;
  revokeSession(id: number): Promise<null>;
  console: {
    tenants(query?: { status?: string; search?: string; after?: string; limit?: number }): Promise<any>;
    provision(body: { slug: string; name: string; adminEmail: string; adminName?: string }): Promise<any>;
    tenant(slug: string): Promise<any>;
    reports(query: { from: string; to: string; groupBy?: "day" | "category" | "priority" | "tenant" }): Promise<{ from: string; to: string; groupBy: string | null; tenants: Omit<Report, "from" | "to" | "groupBy">; platformTickets: Omit<Report, "from" | "to" | "groupBy"> }>;
    tenantReports(slug: string, query: { from: string; to: string; groupBy?: "day" | "category" | "priority" | "assignee" }): Promise<{ from: string; to: string; groupBy: string | null; tenant: string; desk: Omit<Report, "from" | "to" | "groupBy">; platformTickets: Omit<Report, "from" | "to" | "groupBy"> }>;
    suspend(slug: string, reason: string): Promise<any>;
    reactivate(slug: string): Promise<any>;
    exportTenant(slug: string): Promise<Blob>;
    remove(slug: string, confirm: string): Promise<null>;
    figures(): Promise<any>;
    tickets(query?: Query): Promise<{ tickets: Channel[]; total: number }>;
    escalations(query?: Query): Promise<any>;
    escalation(id: number): Promise<any>;
    escalationMessages(id: number, query?: { before?: number; after?: number; limit?: number }): Promise<MessagePage>;
    reply(id: number, content: string, kind?: "USER" | "NOTE"): Promise<Message>;
    resolveEscalation(id: number): Promise<any>;
    returnEscalation(id: number, note: string): Promise<any>;
    audit(query?: { tenant?: string; action?: string; actorId?: number; before?: number; limit?: number }): Promise<any>;
  };
}

export declare function chatApi(options?: ApiOptions): ChatApi;

export interface SocketOptions {
  /** Default: ws(s)://<this host>/ws/chat/ */
  url?: string;
  token: () => string | null;
  /** A single-use ticket for `?ticket=` (e.g. `async () => (await api.wsTicket()).ticket`). */
  ticket?: () => Promise<string>;
  initialDelay?: number;
  maxDelay?: number;
  requestTimeout?: number;
}

export type SocketState = "connecting" | "open" | "reconnecting" | "closed";

export interface ChatSocket {
  open(): void;
  close(): void;
  reconnectNow(): void;
  readonly state: SocketState;
  /** `message`: joined rooms' messages in order, each once; `state`; `fatal`; or any server event. */
  on(name: "message", handler: (message: Message) => void): () => void;
  on(name: "state", handler: (data: { state: SocketState; attempt?: number; delay?: number; code?: number }) => void): () => void;
  on(name: "fatal", handler: (data: { code: number; error: { code: string; message: string } | null }) => void): () => void;
  on(name: "unread_changed", handler: (data: { channelId: string; unreadCount: number }) => void): () => void;
  on(name: string, handler: (data: any) => void): () => void;
  join(channelId: string, from?: { afterId?: number; afterSeq?: number; afterPublicSeq?: number }): Promise<void>;
  leave(channelId: string): Promise<void>;
  send(channelId: string, content: string, kind?: "USER" | "NOTE"): Promise<Message>;
  markRead(channelId: string, messageId: number): Promise<{ channelId: string; lastReadSeq: number; unreadCount: number }>;
  typing(channelId: string): void;
  stopTyping(channelId: string): void;
  request(event: string, data: Record<string, unknown>, retries?: number): Promise<any>;
}

export declare function chatSocket(options: SocketOptions): ChatSocket;
