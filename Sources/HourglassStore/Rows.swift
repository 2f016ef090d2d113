import Foundation
import GRDB
import HourglassCore

/// A record kept in a table with a primary key, read and written through the generic row access
/// both stores implement (`rows`, `write`), so the logic built on them is written once.
public protocol StoredRow: StoredRecord, Sendable {
    static var keyColumns: [String] { get }
}

/// A value in a filter or an update, bound the way each backend stores its kind.
public enum StoreValue: Sendable, Equatable {
    case text(String), int(Int), double(Double), bool(Bool), uuid(UUID), date(Date), null
}

/// One condition of a WHERE clause.
public struct RowFilter: Sendable {
    public enum Op: String, Sendable { case eq = "=", ne = "<>", lt = "<", le = "<=", gt = ">", ge = ">=", isNull = "IS NULL", isNotNull = "IS NOT NULL", in_ = "IN" }

    public var column: String
    public var op: Op
    public var values: [StoreValue]

    public init(column: String, op: Op, values: [StoreValue]) {
        self.column = column
        self.op = op
        self.values = values
    }

    public static func eq(_ column: String, _ value: StoreValue) -> RowFilter { RowFilter(column: column, op: .eq, values: [value]) }
    public static func ge(_ column: String, _ value: StoreValue) -> RowFilter { RowFilter(column: column, op: .ge, values: [value]) }
    public static func le(_ column: String, _ value: StoreValue) -> RowFilter { RowFilter(column: column, op: .le, values: [value]) }
    public static func lt(_ column: String, _ value: StoreValue) -> RowFilter { RowFilter(column: column, op: .lt, values: [value]) }
    public static func isNull(_ column: String) -> RowFilter { RowFilter(column: column, op: .isNull, values: []) }
    public static func isNotNull(_ column: String) -> RowFilter { RowFilter(column: column, op: .isNotNull, values: []) }
    public static func among(_ column: String, _ values: [StoreValue]) -> RowFilter { RowFilter(column: column, op: .in_, values: values) }
}

/// One write of a `write` transaction.
public enum RowWrite: Sendable {
    /// Inserts a row; with `ifAbsent`, a row whose key (or any unique column) is taken is left alone.
    case insert(any StoredRow, ifAbsent: Bool)
    /// Inserts or replaces the row with the same key.
    case upsert(any StoredRow)
    case update(table: String, set: [String: StoreValue], where: [RowFilter])
    case delete(table: String, where: [RowFilter])
}

/// Column names are code, never user input; this keeps it that way.
func checkedColumn(_ name: String) -> String {
    precondition(!name.isEmpty && name.allSatisfy { $0.isLetter || $0 == "_" || $0.isNumber }, "not a column name: \(name)")
    return name
}

extension RowFilter {
    /// SQL with `placeholder(n)` for the n-th bound value, and the values in order.
    func sql(placeholder: (Int) -> String, offset: Int) -> (String, [StoreValue]) {
        let column = checkedColumn(column)
        switch op {
        case .isNull, .isNotNull: return ("\(column) \(op.rawValue)", [])
        case .in_:
            guard !values.isEmpty else { return ("1 = 0", []) }
            return ("\(column) IN (\(values.indices.map { placeholder(offset + $0) }.joined(separator: ", ")))", values)
        default: return ("\(column) \(op.rawValue) \(placeholder(offset))", values)
        }
    }
}

/// "WHERE a = ? AND b IS NULL" for a list of filters, with its values.
func whereClause(_ filters: [RowFilter], placeholder: (Int) -> String, offset: Int = 0) -> (String, [StoreValue]) {
    guard !filters.isEmpty else { return ("", []) }
    var parts: [String] = []
    var values: [StoreValue] = []
    for filter in filters {
        let (sql, bound) = filter.sql(placeholder: placeholder, offset: offset + values.count)
        parts.append(sql)
        values += bound
    }
    return (" WHERE " + parts.joined(separator: " AND "), values)
}

/// "ORDER BY created_at DESC, id" from (column, descending) pairs.
func orderClause(_ order: [(String, Bool)]) -> String {
    order.isEmpty ? "" : " ORDER BY " + order.map { "\(checkedColumn($0.0))\($0.1 ? " DESC" : "")" }.joined(separator: ", ")
}

extension Watch: StoredRow {
    public static let databaseTableName = "watches"
    public static let keyColumns = ["user_id", "kind", "target_id"]
}
extension Comment: StoredRow {
    public static let databaseTableName = "comments"
    public static let keyColumns = ["id"]
}
extension CommentEdit: StoredRow {
    public static let databaseTableName = "comment_edits"
    public static let keyColumns = ["comment_id", "edited_at"]
}
extension NotifyEvent: StoredRow {
    public static let databaseTableName = "notify_events"
    public static let keyColumns = ["id"]
}
extension InboxItem: StoredRow {
    public static let databaseTableName = "inbox"
    public static let keyColumns = ["id"]
}
extension Delivery: StoredRow {
    public static let databaseTableName = "deliveries"
    public static let keyColumns = ["id"]
}
extension Preference: StoredRow {
    public static let databaseTableName = "preferences"
    public static let keyColumns = ["user_id", "channel"]
}
extension Webhook: StoredRow {
    public static let databaseTableName = "webhooks"
    public static let keyColumns = ["id"]
}

/// Notes edited after their meeting ended, waiting for the page to be quiet.
public struct NotesDigest: StoredRow, Equatable {
    public static let databaseTableName = "notes_digests"
    public static let keyColumns = ["meeting_id"]
    public var meetingID: UUID
    public var spaceID: UUID
    public var fromSeq: Int
    public var toSeq: Int
    public var lastChangeAt: Date
}

/// A named value of the installation (e.g. the secret that signs unsubscribe links).
public struct Setting: StoredRow, Equatable {
    public static let databaseTableName = "settings"
    public static let keyColumns = ["key"]
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// The tables of watches, comments and notifications, the same on both backends (SQLite types;
/// `PostgresMigrations` maps DOUBLE and BOOLEAN).
let notifyTablesSQL = """
    CREATE TABLE watches (
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        target_id TEXT NOT NULL,
        space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
        automatic BOOLEAN NOT NULL,
        muted BOOLEAN NOT NULL,
        created_at DOUBLE NOT NULL,
        PRIMARY KEY (user_id, kind, target_id)
    );
    CREATE INDEX watches_target ON watches (kind, target_id);
    CREATE TABLE comments (
        id TEXT PRIMARY KEY NOT NULL,
        space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
        meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
        topic_id TEXT,
        bullet_id TEXT,
        parent_id TEXT,
        author_id TEXT NOT NULL,
        author_name TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at DOUBLE NOT NULL,
        edited_at DOUBLE
    );
    CREATE INDEX comments_meeting ON comments (meeting_id, created_at);
    CREATE TABLE comment_edits (
        comment_id TEXT NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
        body TEXT NOT NULL,
        edited_at DOUBLE NOT NULL,
        PRIMARY KEY (comment_id, edited_at)
    );
    CREATE TABLE notify_events (
        id TEXT PRIMARY KEY NOT NULL,
        kind TEXT NOT NULL,
        space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
        meeting_id TEXT NOT NULL,
        topic_id TEXT,
        comment_id TEXT,
        actor_id TEXT,
        from_seq INTEGER,
        to_seq INTEGER,
        at DOUBLE NOT NULL,
        processed_at DOUBLE
    );
    CREATE INDEX notify_events_pending ON notify_events (at) WHERE processed_at IS NULL;
    CREATE TABLE inbox (
        id TEXT PRIMARY KEY NOT NULL,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
        event_id TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        link TEXT NOT NULL,
        created_at DOUBLE NOT NULL,
        read_at DOUBLE,
        UNIQUE (user_id, event_id)
    );
    CREATE INDEX inbox_user ON inbox (user_id, created_at);
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY NOT NULL,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        space_id TEXT,
        user_id TEXT,
        webhook_id TEXT,
        destination TEXT NOT NULL,
        subject TEXT NOT NULL,
        text TEXT NOT NULL,
        html TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at DOUBLE NOT NULL,
        last_error TEXT,
        created_at DOUBLE NOT NULL,
        sent_at DOUBLE
    );
    CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
    CREATE TABLE preferences (
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        channel TEXT NOT NULL,
        cadence TEXT NOT NULL,
        PRIMARY KEY (user_id, channel)
    );
    CREATE TABLE webhooks (
        id TEXT PRIMARY KEY NOT NULL,
        space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        format TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_at DOUBLE NOT NULL
    );
    CREATE TABLE notes_digests (
        meeting_id TEXT PRIMARY KEY NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
        space_id TEXT NOT NULL,
        from_seq INTEGER NOT NULL,
        to_seq INTEGER NOT NULL,
        last_change_at DOUBLE NOT NULL
    );
    """

extension NotesCommit {
    /// What a commit of edits made after the meeting also writes: the editors watch the meeting, and
    /// the edits are gathered into its digest (sent once the page has been quiet). Live edits write
    /// nothing more: their editors are made watchers once, when the meeting ends.
    func sideEffects(spaceID: UUID, meetingID: UUID, status: MeetingStatus, now: Date) -> (digest: NotesDigest?, watches: [Watch]) {
        let editors = Set(entries.compactMap(\.userID))
        guard !status.isOpen, let first = entries.first?.seq, let last = entries.last?.seq, !editors.isEmpty else { return (nil, []) }
        let watches = editors.map { Watch(userID: $0, kind: .meeting, targetID: meetingID, spaceID: spaceID, automatic: true, createdAt: now) }
        return (NotesDigest(meetingID: meetingID, spaceID: spaceID, fromSeq: first, toSeq: last, lastChangeAt: now), watches)
    }
}

/// Adds edits to a meeting's digest: the first sequence number stays, the last and the time move on.
let digestUpsertSQL = "ON CONFLICT (meeting_id) DO UPDATE SET to_seq = excluded.to_seq, last_change_at = excluded.last_change_at"

extension Space: StoredRow { public static let keyColumns = ["id"] }
extension Meeting: StoredRow { public static let keyColumns = ["id"] }
extension Topic: StoredRow { public static let keyColumns = ["id"] }
extension Series: StoredRow { public static let keyColumns = ["id"] }
