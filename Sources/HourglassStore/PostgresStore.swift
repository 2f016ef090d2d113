import Foundation
import HourglassCore
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import ServiceLifecycle

/// The scale-out store: PostgreSQL through postgres-nio. Several `hourglass serve` instances can
/// share one database; the order of changes to a meeting is decided by the database (the meeting
/// row is locked for the length of a command), and every change is announced with NOTIFY so the
/// other instances can push it to their sockets (see `PostgresFanout`).
///
/// Rows travel as JSON: records are encoded once with `Codable` and written with
/// `jsonb_populate_record`, and read back with `row_to_json`, so each table needs no hand-written
/// column mapping and every value is a bound parameter.
public struct PostgresStore: HourglassStore {
    public let client: PostgresClient
    let logger: Logger
    /// The NOTIFY channel of every instance: "board SPACE MEETING SEQ" for each committed board change,
    /// "presence SPACE MEETING INSTANCE" when an instance's list of who is here changed.
    public static let channel = "hourglass_events"

    /// Connects, runs pending migrations (serialized across instances by an advisory lock) and
    /// returns a store whose `client` must run as a service.
    public static func open(url: String, logger: Logger) async throws -> PostgresStore {
        let target = try PostgresTarget(url: url)
        try await PostgresMigrations.run(target, logger: logger)
        var configuration = target.clientConfiguration
        configuration.options.minimumConnections = 0
        configuration.options.maximumConnections = 20
        return PostgresStore(client: PostgresClient(configuration: configuration, backgroundLogger: logger), logger: logger)
    }

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    // MARK: Row mapping

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }()

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in propertyKey(path.last!.stringValue) }
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }

    static func json<T: Encodable>(_ value: T, adding extra: [String: String] = [:]) throws -> String {
        let data = try encoder.encode(value)
        guard !extra.isEmpty, var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return String(decoding: data, as: UTF8.self)
        }
        for (key, value) in extra { object[key] = value }
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    /// Rows of `SELECT row_to_json(t)::text …` decoded as records.
    static func decode<T: Decodable>(_ type: T.Type, _ rows: PostgresRowSequence) async throws -> [T] {
        let decoder = decoder()
        var values: [T] = []
        for try await (text) in rows.decode(String.self) {
            values.append(try decoder.decode(T.self, from: Data(text.utf8)))
        }
        return values
    }

    func fetch<T: Decodable>(_ type: T.Type, _ query: PostgresQuery, on connection: PostgresConnection? = nil) async throws -> [T] {
        if let connection { return try await Self.decode(T.self, try await connection.query(query, logger: logger)) }
        return try await Self.decode(T.self, try await client.query(query, logger: logger))
    }

    /// Inserts (or upserts) a record through `jsonb_populate_record`, on the given connection
    /// (inside a transaction) or on any pooled one.
    /// With `ignoreExisting`, a row whose key is taken is left as it is; returns whether a row was written.
    @discardableResult
    func write<T: Encodable>(_ value: T, into table: PostgresTable, upsert: Bool = false, ignoreExisting: Bool = false,
                             extra: [String: String] = [:], on connection: PostgresConnection? = nil) async throws -> Bool {
        let json = try Self.json(value, adding: extra)
        let written = upsert && table.columns.isEmpty ? ((try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?.keys.sorted() ?? []) : []
        let conflict = upsert ? table.upsertClause(columns: written) : ignoreExisting ? "ON CONFLICT DO NOTHING" : ""
        let query: PostgresQuery = """
            INSERT INTO \(unescaped: table.name) SELECT * FROM jsonb_populate_record(NULL::\(unescaped: table.name), \(json)::jsonb) \(unescaped: conflict) RETURNING 1::int8
            """
        do {
            let rows = if let connection {
                try await connection.query(query, logger: logger)
            } else {
                try await client.query(query, logger: logger)
            }
            var written = false
            for try await _ in rows { written = true }
            return written
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw StoreError.duplicate(table.duplicateMessage)
        }
    }

    /// Runs `body` in a transaction (rolled back when it throws), rethrowing the body's own error
    /// rather than postgres-nio's wrapper, so callers see the same errors as with SQLite.
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error
        }
    }

    func count(_ query: PostgresQuery) async throws -> Int {
        for try await (value) in try await client.query(query, logger: logger).decode(Int.self) { return value }
        return 0
    }

    // MARK: Accounts

    public func userCount() async throws -> Int { try await count("SELECT count(*)::int8 FROM users") }

    public func createUser(_ user: User, passwordHash: String) async throws {
        try await write(user, into: .users, extra: ["password_hash": passwordHash])
    }

    public func createFirstAdmin(_ user: User, passwordHash: String, setupTokenHash: String) async throws {
        try await transaction { connection in
            // Serializes concurrent setup attempts: the token row is locked until commit.
            var pending: String?
            for try await (value) in try await connection.query("SELECT value FROM settings WHERE key = 'setup_token_hash' FOR UPDATE", logger: logger).decode(String.self) {
                pending = value
            }
            var admins = 0
            for try await (value) in try await connection.query("SELECT count(*)::int8 FROM users WHERE is_admin", logger: logger).decode(Int.self) {
                admins = value
            }
            guard let pending, constantTimeEqual(pending, setupTokenHash), admins == 0 else { throw StoreError.setupClosed }
            var admin = user
            admin.isAdmin = true
            try await write(admin, into: .users, extra: ["password_hash": passwordHash], on: connection)
            try await connection.query("DELETE FROM settings WHERE key = 'setup_token_hash'", logger: logger)
        }
    }

    public func setSetupToken(hash: String) async throws {
        try await client.query("""
            INSERT INTO settings (key, value) VALUES ('setup_token_hash', \(hash))
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
            """, logger: logger)
    }

    public func hasPendingSetupToken() async throws -> Bool {
        try await count("""
            SELECT count(*)::int8 FROM settings WHERE key = 'setup_token_hash' AND NOT EXISTS (SELECT 1 FROM users WHERE is_admin)
            """) > 0
    }

    public func user(id: UUID) async throws -> User? {
        try await fetch(User.self, "SELECT row_to_json(u)::text FROM users u WHERE id = \(id.uuidString)").first
    }

    public func user(email: String) async throws -> User? {
        try await fetch(User.self, "SELECT row_to_json(u)::text FROM users u WHERE lower(email) = lower(\(email))").first
    }

    public func credentials(email: String) async throws -> Credentials? {
        struct Row: Decodable {
            var passwordHash: String
        }
        guard let user = try await user(email: email) else { return nil }
        let row = try await fetch(Row.self, "SELECT json_build_object('password_hash', password_hash)::text FROM users WHERE id = \(user.id.uuidString)").first
        return Credentials(user: user, passwordHash: row?.passwordHash ?? "")
    }

    public func createSession(tokenHash: String, userID: UUID, expiresAt: Date, now: Date) async throws {
        try await client.withConnection { connection in
            try await connection.query("DELETE FROM sessions WHERE expires_at < \(now.timeIntervalSince1970)", logger: logger)
            try await connection.query("""
                INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (\(tokenHash), \(userID.uuidString), \(expiresAt.timeIntervalSince1970))
                """, logger: logger)
        }
    }

    public func user(sessionTokenHash: String, now: Date) async throws -> User? {
        try await fetch(User.self, """
            SELECT row_to_json(u)::text FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE s.token_hash = \(sessionTokenHash) AND s.expires_at > \(now.timeIntervalSince1970)
            """).first
    }

    public func deleteSession(tokenHash: String) async throws {
        try await client.query("DELETE FROM sessions WHERE token_hash = \(tokenHash)", logger: logger)
    }

    // MARK: Spaces

    public func createSpace(_ space: Space, owner: UUID) async throws {
        try await transaction { connection in
            try await write(space, into: .spaces, on: connection)
            try await write(Membership(spaceID: space.id, userID: owner, role: .owner), into: .memberships, on: connection)
        }
    }

    public func space(slug: String) async throws -> Space? {
        try await fetch(Space.self, "SELECT row_to_json(s)::text FROM spaces s WHERE slug = \(slug)").first
    }

    public func spaces(visibleTo user: User?) async throws -> [Space] {
        if user?.isAdmin == true {
            return try await fetch(Space.self, "SELECT row_to_json(s)::text FROM spaces s ORDER BY lower(name)")
        }
        return try await fetch(Space.self, """
            SELECT row_to_json(s)::text FROM spaces s
            WHERE visibility = 'public' OR id IN (SELECT space_id FROM memberships WHERE user_id = \(user?.id.uuidString ?? ""))
            ORDER BY lower(name)
            """)
    }

    public func updateSpace(_ space: Space) async throws { try await write(space, into: .spaces, upsert: true) }

    public func membership(spaceID: UUID, userID: UUID) async throws -> Membership? {
        try await fetch(Membership.self, """
            SELECT row_to_json(m)::text FROM memberships m WHERE space_id = \(spaceID.uuidString) AND user_id = \(userID.uuidString)
            """).first
    }

    public func members(spaceID: UUID) async throws -> [Member] {
        struct Row: Decodable {
            var user: User
            var role: SpaceRole
        }
        let rows = try await fetch(Row.self, """
            SELECT json_build_object('user', row_to_json(u), 'role', m.role)::text
            FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.space_id = \(spaceID.uuidString)
            """)
        return rows.map { Member(user: $0.user, role: $0.role) }
            .sorted { $0.user.name.localizedCaseInsensitiveCompare($1.user.name) == .orderedAscending }
    }

    public func setMembership(_ membership: Membership) async throws { try await write(membership, into: .memberships, upsert: true) }

    public func removeMembership(spaceID: UUID, userID: UUID) async throws {
        try await client.query("DELETE FROM memberships WHERE space_id = \(spaceID.uuidString) AND user_id = \(userID.uuidString)", logger: logger)
    }

    // MARK: Series and meetings

    public func createSeries(_ series: Series, firstMeeting: Meeting) async throws {
        try await transaction { connection in
            try await write(series, into: .series, on: connection)
            try await write(firstMeeting, into: .meetings, on: connection)
        }
    }

    public func series(spaceID: UUID) async throws -> [Series] {
        try await fetch(Series.self, "SELECT row_to_json(s)::text FROM series s WHERE space_id = \(spaceID.uuidString) ORDER BY name")
    }

    public func series(spaceID: UUID, slug: String) async throws -> Series? {
        try await fetch(Series.self, "SELECT row_to_json(s)::text FROM series s WHERE space_id = \(spaceID.uuidString) AND slug = \(slug)").first
    }

    public func updateSeries(_ series: Series) async throws { try await write(series, into: .series, upsert: true) }

    public func meetings(spaceID: UUID, seriesID: UUID) async throws -> [Meeting] {
        try await fetch(Meeting.self, """
            SELECT row_to_json(m)::text FROM meetings m WHERE space_id = \(spaceID.uuidString) AND series_id = \(seriesID.uuidString)
            ORDER BY date DESC
            """)
    }

    public func createMeeting(_ meeting: Meeting) async throws { try await write(meeting, into: .meetings) }

    public func meeting(spaceID: UUID, seriesID: UUID, date: LocalDate) async throws -> Meeting? {
        try await fetch(Meeting.self, """
            SELECT row_to_json(m)::text FROM meetings m
            WHERE space_id = \(spaceID.uuidString) AND series_id = \(seriesID.uuidString) AND date = \(date.description)
            """).first
    }

    public func board(spaceID: UUID, meetingID: UUID) async throws -> Board? {
        try await client.withConnection { connection in
            try await loadBoard(spaceID: spaceID, meetingID: meetingID, lock: false, on: connection)
        }
    }

    func loadBoard(spaceID: UUID, meetingID: UUID, lock: Bool, on connection: PostgresConnection) async throws -> Board? {
        let lockClause = lock ? "FOR UPDATE" : ""
        guard let meeting = try await fetch(Meeting.self, """
                SELECT row_to_json(m)::text FROM meetings m WHERE id = \(meetingID.uuidString) AND space_id = \(spaceID.uuidString) \(unescaped: lockClause)
                """, on: connection).first,
              let series = try await fetch(Series.self, "SELECT row_to_json(s)::text FROM series s WHERE id = \(meeting.seriesID.uuidString)", on: connection).first
        else { return nil }
        let topics = try await fetch(Topic.self, """
            SELECT row_to_json(t)::text FROM topics t WHERE meeting_id = \(meetingID.uuidString) ORDER BY proposed_at, id
            """, on: connection)
        let rows = try await fetch(VoteRow.self, "SELECT row_to_json(v)::text FROM votes v WHERE meeting_id = \(meetingID.uuidString)", on: connection)
        var votes: [Board.VoteKey: Int] = [:]
        for row in rows { votes[Board.VoteKey(topicID: row.topicID, userID: row.userID)] = row.count }
        return Board(meeting: meeting, settings: series.settings, topics: topics, votes: votes)
    }

    public func apply(_ command: BoardCommand, by actor: Actor?, spaceID: UUID, meetingID: UUID, now: Date) async throws -> [Board] {
        try await transaction { connection in
            guard let old = try await loadBoard(spaceID: spaceID, meetingID: meetingID, lock: true, on: connection) else {
                throw StoreError.notFound("No such meeting")
            }
            let new = try old.apply(command, by: actor, at: now)
            let next = new.closesMeeting(from: old) ? try await nextBoard(after: new.meeting, now: now, on: connection) : nil
            var saved: [Board] = []
            for pair in boardChanges(old: old, new: new, next: next, now: now) {
                guard let writes = BoardWrites(old: pair.old, new: pair.new, now: now) else { continue }
                try await write(writes.board.meeting, into: .meetings, upsert: true, on: connection)
                for event in writes.events { try await write(event, into: .table(NotifyEvent.self), on: connection) }
                for watch in writes.watches { try await write(watch, into: .table(Watch.self), ignoreExisting: true, on: connection) }
                for topic in writes.topics { try await write(topic, into: .topics, upsert: true, on: connection) }
                for row in writes.votes { try await write(row, into: .votes, upsert: true, on: connection) }
                for key in writes.deletedVotes {
                    try await connection.query("DELETE FROM votes WHERE topic_id = \(key.topicID.uuidString) AND user_id = \(key.userID.uuidString)", logger: logger)
                }
                let m = writes.board.meeting
                // Delivered to every listening instance when (and only if) the transaction commits.
                try await connection.query("SELECT pg_notify(\(Self.channel), \("board \(m.spaceID.uuidString) \(m.id.uuidString) \(m.seq)"))", logger: logger)
                saved.append(writes.board)
            }
            return saved
        }
    }

    /// The next open meeting of the series, created from the schedule when there is none yet.
    private func nextBoard(after meeting: Meeting, now: Date, on connection: PostgresConnection) async throws -> Board {
        if let next = try await fetch(Meeting.self, """
                SELECT row_to_json(m)::text FROM meetings m
                WHERE series_id = \(meeting.seriesID.uuidString) AND date > \(meeting.date.description) AND status IN ('upcoming', 'live')
                ORDER BY date LIMIT 1
                """, on: connection).first,
           let board = try await loadBoard(spaceID: next.spaceID, meetingID: next.id, lock: true, on: connection) {
            return board
        }
        guard let series = try await fetch(Series.self, "SELECT row_to_json(s)::text FROM series s WHERE id = \(meeting.seriesID.uuidString)", on: connection).first else {
            throw StoreError.notFound("No such series")
        }
        let taken = Set(try await fetch(LocalDate.self, "SELECT to_json(date)::text FROM meetings WHERE series_id = \(series.id.uuidString)", on: connection))
        var created = series.newMeeting(after: meeting.startsAt, now: now)
        while taken.contains(created.date) { created = series.newMeeting(after: created.startsAt, now: now) }
        try await write(created, into: .meetings, on: connection)
        return Board(meeting: created, settings: series.settings)
    }

    public func notes(meetingID: UUID) async throws -> NotesState {
        struct Client: Decodable {
            var client: String
            var last: Int
        }
        let id = meetingID.uuidString
        // One snapshot for all three reads: a commit landing between them would give bullets of one
        // sequence number and the head of another (a room would then apply later changes to
        // bullets that lack earlier ones).
        return try await transaction { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            let bullets = try await fetch(BulletRow.self, "SELECT row_to_json(b)::text FROM bullets b WHERE meeting_id = \(id)", on: connection).map(\.bullet)
            var seq = 0
            for try await (value) in try await connection.query("SELECT seq FROM notes_heads WHERE meeting_id = \(id)", logger: logger).decode(Int.self) {
                seq = value
            }
            let clients = try await fetch(Client.self, """
                SELECT json_build_object('client', client, 'last', max(client_seq))::text FROM note_ops WHERE meeting_id = \(id) GROUP BY client
                """, on: connection)
            return NotesState(bullets: bullets, seq: seq, clientSeqs: Dictionary(clients.map { ($0.client, $0.last) }, uniquingKeysWith: max))
        }
    }

    public func commitNotes(spaceID: UUID, meetingID: UUID, knownSeq: Int,
                            _ decide: @Sendable ([NoteEntry]) throws -> NotesCommit) async throws -> NotesCommit {
        let id = meetingID.uuidString
        return try await transaction { connection in
            // Locking the meeting row orders every notes commit of this meeting, across instances.
            var status: MeetingStatus?
            for try await (value) in try await connection.query("SELECT status FROM meetings WHERE id = \(id) AND space_id = \(spaceID.uuidString) FOR UPDATE", logger: logger).decode(String.self) {
                status = MeetingStatus(rawValue: value)
            }
            guard let status else { throw StoreError.notFound("No such meeting") }
            var stored = 0
            for try await (value) in try await connection.query("SELECT seq FROM notes_heads WHERE meeting_id = \(id)", logger: logger).decode(Int.self) {
                stored = value
            }
            let missed = stored == knownSeq ? [] : try await fetch(NoteOpRow.self, """
                SELECT row_to_json(o)::text FROM note_ops o WHERE meeting_id = \(id) AND seq > \(knownSeq) ORDER BY seq
                """, on: connection).map { try $0.entry() }
            let commit = try decide(missed)
            for entry in commit.entries { try await write(try NoteOpRow(meetingID: meetingID, entry), into: .noteOps, on: connection) }
            for bullet in commit.bullets { try await write(BulletRow(meetingID: meetingID, bullet), into: .bullets, upsert: true, on: connection) }
            if let last = commit.entries.last?.seq {
                try await connection.query("""
                    INSERT INTO notes_heads (meeting_id, seq) VALUES (\(id), \(last)) ON CONFLICT (meeting_id) DO UPDATE SET seq = EXCLUDED.seq
                    """, logger: logger)
                try await connection.query("SELECT pg_notify(\(Self.channel), \("notes \(spaceID.uuidString) \(id) \(last)"))", logger: logger)
            }
            let effects = commit.sideEffects(spaceID: spaceID, meetingID: meetingID, status: status, now: commit.entries.last?.at ?? Date())
            for watch in effects.watches { try await write(watch, into: .table(Watch.self), ignoreExisting: true, on: connection) }
            if let digest = effects.digest {
                try await connection.query(PostgresQuery(unsafeSQL: "INSERT INTO notes_digests (meeting_id, space_id, from_seq, to_seq, last_change_at) VALUES ($1, $2, $3, $4, $5) " + digestUpsertSQL,
                                                         binds: try Self.binds([.uuid(meetingID), .uuid(spaceID), .int(digest.fromSeq), .int(digest.toSeq), .date(digest.lastChangeAt)])), logger: logger)
            }
            return commit
        }
    }

    public func noteEntries(meetingID: UUID, after seq: Int, limit: Int) async throws -> [NoteEntry] {
        try await fetch(NoteOpRow.self, """
            SELECT row_to_json(o)::text FROM note_ops o WHERE meeting_id = \(meetingID.uuidString) AND seq > \(seq) ORDER BY seq LIMIT \(limit)
            """).map { try $0.entry() }
    }

    public func textHistory(meetingID: UUID, bullet: String, fromRev: Int) async throws -> [TextOperation] {
        try await fetch(NoteOpRow.self, """
            SELECT row_to_json(o)::text FROM note_ops o WHERE meeting_id = \(meetingID.uuidString) AND bullet = \(bullet) AND kind = 'text' ORDER BY seq
            """).map { try $0.entry() }.textOperations(bullet: bullet, fromRev: fromRev)
    }

    public func search(_ terms: SearchTerms, filter: SearchFilter) async throws -> [SearchHit] {
        guard !terms.isEmpty, !filter.spaceIDs.isEmpty else { return [] }
        struct Row: Decodable {
            var id: String
            var meetingID: UUID
            var spaceID: UUID
            var seriesID: UUID
            var date: LocalDate
            var title: String
            var text: String
            var rank: Double
        }
        let query = terms.tsquery
        let spaces = filter.spaceIDs.map(\.uuidString)
        let series = filter.seriesID?.uuidString
        let from = filter.from?.description
        let to = filter.to?.description
        let proposer = filter.proposer.map { "%\(likeEscaped($0))%" }
        // As on SQLite: the newest matches that pass the filters are ranked, the best `limit` kept,
        // snippets made from their text. ts_rank is negated so that lower is better on both backends.
        let candidates = SQLiteStore.searchCandidates
        let topics = try await fetch(Row.self, """
            SELECT json_build_object('id', c.id, 'meeting_id', c.meeting_id, 'space_id', c.space_id, 'series_id', c.series_id,
                   'date', c.date, 'title', c.title, 'text', c.description, 'rank', c.rank)::text
            FROM (SELECT t.id, t.meeting_id, m.space_id, m.series_id, m.date, t.title, t.description,
                         -ts_rank(setweight(to_tsvector('simple', t.title), 'A') || to_tsvector('simple', t.description), q) AS rank
                  FROM topics t JOIN meetings m ON m.id = t.meeting_id, to_tsquery('simple', \(query)) q
                  WHERE to_tsvector('simple', t.title || ' ' || t.description) @@ q AND t.status <> 'withdrawn'
                    AND m.space_id = ANY(\(spaces))
                    AND (\(series)::text IS NULL OR m.series_id = \(series))
                    AND (\(from)::text IS NULL OR m.date >= \(from)) AND (\(to)::text IS NULL OR m.date <= \(to))
                    AND (\(filter.tag)::text IS NULL OR t.tag = \(filter.tag))
                    AND (\(proposer)::text IS NULL OR t.proposer_name ILIKE \(proposer))
                  ORDER BY m.date DESC, t.proposed_at DESC LIMIT \(candidates)) c
            ORDER BY c.rank LIMIT \(filter.limit)
            """)
        let hits = topics.map {
            SearchHit(kind: .topic, spaceID: $0.spaceID, seriesID: $0.seriesID, meetingID: $0.meetingID, meetingDate: $0.date,
                      topicID: UUID(uuidString: $0.id), bulletID: nil, title: $0.title,
                      snippet: terms.snippet(of: $0.text.isEmpty ? $0.title : $0.title + " — " + $0.text), rank: $0.rank)
        }
        guard filter.tag == nil, filter.proposer == nil else { return hits }
        let bullets = try await fetch(Row.self, """
            SELECT json_build_object('id', c.id, 'meeting_id', c.meeting_id, 'space_id', c.space_id, 'series_id', c.series_id,
                   'date', c.date, 'title', 'Notes', 'text', c.text, 'rank', c.rank)::text
            FROM (SELECT b.id, b.meeting_id, m.space_id, m.series_id, m.date, b.text, -ts_rank(to_tsvector('simple', b.text), q) AS rank
                  FROM bullets b JOIN meetings m ON m.id = b.meeting_id, to_tsquery('simple', \(query)) q
                  WHERE to_tsvector('simple', b.text) @@ q AND NOT b.deleted
                    AND m.space_id = ANY(\(spaces))
                    AND (\(series)::text IS NULL OR m.series_id = \(series))
                    AND (\(from)::text IS NULL OR m.date >= \(from)) AND (\(to)::text IS NULL OR m.date <= \(to))
                  LIMIT \(candidates)) c
            ORDER BY c.rank LIMIT \(filter.limit)
            """)
        let bulletHits = bullets.map {
            SearchHit(kind: .bullet, spaceID: $0.spaceID, seriesID: $0.seriesID, meetingID: $0.meetingID, meetingDate: $0.date,
                      topicID: nil, bulletID: $0.id, title: $0.title, snippet: terms.snippet(of: $0.text), rank: $0.rank)
        }
        struct CommentRow: Decodable {
            var id: UUID
            var meetingID: UUID
            var topicID: String?
            var spaceID: UUID
            var seriesID: UUID
            var date: LocalDate
            var authorName: String
            var body: String
            var rank: Double
        }
        let comments = try await fetch(CommentRow.self, """
            SELECT json_build_object('id', c.id, 'meeting_id', c.meeting_id, 'topic_id', c.topic_id, 'space_id', c.space_id, 'series_id', c.series_id,
                   'date', c.date, 'author_name', c.author_name, 'body', c.body, 'rank', c.rank)::text
            FROM (SELECT c.id, c.meeting_id, c.topic_id, m.space_id, m.series_id, m.date, c.author_name, c.body,
                         -ts_rank(to_tsvector('simple', c.body), q) AS rank
                  FROM comments c JOIN meetings m ON m.id = c.meeting_id, to_tsquery('simple', \(query)) q
                  WHERE to_tsvector('simple', c.body) @@ q AND m.space_id = ANY(\(spaces))
                    AND (\(series)::text IS NULL OR m.series_id = \(series))
                    AND (\(from)::text IS NULL OR m.date >= \(from)) AND (\(to)::text IS NULL OR m.date <= \(to))
                  LIMIT \(candidates)) c
            ORDER BY c.rank LIMIT \(filter.limit)
            """)
        let commentHits = comments.map {
            SearchHit(kind: .comment, spaceID: $0.spaceID, seriesID: $0.seriesID, meetingID: $0.meetingID, meetingDate: $0.date,
                      topicID: $0.topicID.flatMap(UUID.init(uuidString:)), bulletID: nil, title: "Comment by \($0.authorName)",
                      snippet: terms.snippet(of: $0.body), rank: $0.rank, commentID: $0.id)
        }
        return SearchHit.merged(hits, bulletHits, commentHits, limit: filter.limit)
    }

    public func topicIndex(spaceID: UUID) async throws -> [TopicRef] {
        struct Row: Decodable {
            var topic: Topic
            var seriesID: UUID
            var meetingDate: LocalDate
        }
        return try await fetch(Row.self, """
            SELECT json_build_object('topic', row_to_json(t), 'seriesID', m.series_id, 'meetingDate', m.date)::text
            FROM topics t JOIN meetings m ON m.id = t.meeting_id
            WHERE m.space_id = \(spaceID.uuidString) AND t.status <> 'withdrawn' ORDER BY m.date, t.discussion_order, t.proposed_at
            """).map { TopicRef(topic: $0.topic, seriesID: $0.seriesID, meetingDate: $0.meetingDate) }
    }

    public func topicCounts(spaceID: UUID, meetingIDs: [UUID]) async throws -> [UUID: Int] {
        struct Row: Decodable {
            var meetingID: UUID
            var n: Int
        }
        guard !meetingIDs.isEmpty else { return [:] }
        let rows = try await fetch(Row.self, """
            SELECT json_build_object('meetingID', t.meeting_id, 'n', count(*))::text FROM topics t JOIN meetings m ON m.id = t.meeting_id
            WHERE m.space_id = \(spaceID.uuidString) AND t.status <> 'withdrawn' AND t.meeting_id = ANY(\(meetingIDs.map(\.uuidString)))
            GROUP BY t.meeting_id
            """)
        return Dictionary(rows.map { ($0.meetingID, $0.n) }, uniquingKeysWith: +)
    }

    public func actionBullets(spaceID: UUID) async throws -> [ActionBullet] {
        struct Row: Decodable {
            var bullet: BulletRow
            var seriesID: UUID
            var meetingDate: LocalDate
        }
        return try await fetch(Row.self, """
            SELECT json_build_object('bullet', row_to_json(b), 'seriesID', m.series_id, 'meetingDate', m.date)::text
            FROM bullets b JOIN meetings m ON m.id = b.meeting_id
            WHERE m.space_id = \(spaceID.uuidString) AND NOT b.deleted AND (\(unescaped: SQLiteStore.actionCondition)) ORDER BY m.date, b.order_key
            """).map { ActionBullet(spaceID: spaceID, seriesID: $0.seriesID, meetingID: $0.bullet.meetingID, meetingDate: $0.meetingDate, bullet: $0.bullet.bullet) }
    }

    public func savePresence(instanceID: UUID, spaceID: UUID, meetingID: UUID, names: [String], now: Date) async throws {
        let json = String(decoding: try JSONEncoder().encode(names), as: UTF8.self)
        let payload = "presence \(spaceID.uuidString) \(meetingID.uuidString) \(instanceID.uuidString)"
        try await transaction { connection in
            if names.isEmpty {
                try await connection.query("DELETE FROM presence WHERE meeting_id = \(meetingID.uuidString) AND instance_id = \(instanceID.uuidString)", logger: logger)
            } else {
                try await connection.query("""
                    INSERT INTO presence (instance_id, meeting_id, names, seen_at) VALUES (\(instanceID.uuidString), \(meetingID.uuidString), \(json)::jsonb, \(now.timeIntervalSince1970))
                    ON CONFLICT (meeting_id, instance_id) DO UPDATE SET names = EXCLUDED.names, seen_at = EXCLUDED.seen_at
                    """, logger: logger)
            }
            try await connection.query("SELECT pg_notify(\(Self.channel), \(payload))", logger: logger)
        }
    }

    public func presence(meetingID: UUID, excluding instanceID: UUID, freshSince: Date) async throws -> [String] {
        try await fetch([String].self, """
            SELECT names::text FROM presence
            WHERE meeting_id = \(meetingID.uuidString) AND instance_id <> \(instanceID.uuidString) AND seen_at >= \(freshSince.timeIntervalSince1970)
            """).flatMap { $0 }
    }

    public func exportSnapshot() async throws -> StoreSnapshot {
        struct Hash: Decodable {
            var id: UUID
            var passwordHash: String
        }
        var snapshot = StoreSnapshot()
        let hashes = Dictionary(uniqueKeysWithValues: try await fetch(Hash.self, "SELECT json_build_object('id', id, 'password_hash', password_hash)::text FROM users").map { ($0.id, $0.passwordHash) })
        snapshot.users = try await fetch(User.self, "SELECT row_to_json(u)::text FROM users u").map { StoreSnapshot.Account(user: $0, passwordHash: hashes[$0.id] ?? "") }
        snapshot.spaces = try await fetch(Space.self, "SELECT row_to_json(t)::text FROM spaces t")
        snapshot.memberships = try await fetch(Membership.self, "SELECT row_to_json(t)::text FROM memberships t")
        snapshot.series = try await fetch(Series.self, "SELECT row_to_json(t)::text FROM series t")
        snapshot.meetings = try await fetch(Meeting.self, "SELECT row_to_json(t)::text FROM meetings t")
        snapshot.topics = try await fetch(Topic.self, "SELECT row_to_json(t)::text FROM topics t")
        snapshot.votes = try await fetch(VoteRow.self, "SELECT row_to_json(t)::text FROM votes t")
        snapshot.bullets = try await fetch(BulletRow.self, "SELECT row_to_json(t)::text FROM bullets t")
        snapshot.noteOps = try await fetch(NoteOpRow.self, "SELECT row_to_json(t)::text FROM note_ops t")
        snapshot.notesHeads = try await fetch(NotesHead.self, "SELECT row_to_json(t)::text FROM notes_heads t")
        return snapshot
    }

    public func importSnapshot(_ snapshot: StoreSnapshot) async throws {
        try await transaction { connection in
            var existing = 0
            for try await (value) in try await connection.query("SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM spaces)", logger: logger).decode(Int.self) {
                existing = value
            }
            guard existing == 0 else { throw StoreError.duplicate("The target already has accounts or spaces; migrate into an empty database") }
            for account in snapshot.users { try await write(account.user, into: .users, extra: ["password_hash": account.passwordHash], on: connection) }
            for space in snapshot.spaces { try await write(space, into: .spaces, on: connection) }
            for membership in snapshot.memberships { try await write(membership, into: .memberships, on: connection) }
            for series in snapshot.series { try await write(series, into: .series, on: connection) }
            for meeting in snapshot.meetings { try await write(meeting, into: .meetings, on: connection) }
            for topic in snapshot.topics { try await write(topic, into: .topics, on: connection) }
            for vote in snapshot.votes { try await write(vote, into: .votes, on: connection) }
            for bullet in snapshot.bullets { try await write(bullet, into: .bullets, on: connection) }
            for op in snapshot.noteOps { try await write(op, into: .noteOps, on: connection) }
            for head in snapshot.notesHeads { try await write(head, into: .notesHeads, on: connection) }
        }
    }

    public func merge(_ content: StoreSnapshot, progress: (@Sendable (Int, Int) -> Void)?) async throws -> [String: Int] {
        try await transaction { connection in
            var written: [String: Int] = [:]
            var done = 0
            let total = content.contentRowCount
            func add<T: Encodable>(_ rows: [T], _ table: PostgresTable) async throws {
                for row in rows {
                    if try await write(row, into: table, ignoreExisting: true, on: connection) { written[table.name, default: 0] += 1 }
                    done += 1
                    if done % 1000 == 0 { progress?(done, total) }
                }
            }
            for series in content.series {
                let before = try await fetch(Series.self, "SELECT row_to_json(t)::text FROM series t WHERE id = \(series.id.uuidString)", on: connection).first
                if before != series { written["series", default: 0] += 1 }
                try await write(series, into: .series, upsert: true, on: connection)
            }
            try await add(content.meetings, .meetings)
            try await add(content.topics, .topics)
            try await add(content.votes, .votes)
            try await add(content.bullets, .bullets)
            try await add(content.noteOps, .noteOps)
            for head in content.notesHeads {
                try await connection.query("""
                    INSERT INTO notes_heads (meeting_id, seq) VALUES (\(head.meetingID.uuidString), \(head.seq))
                    ON CONFLICT (meeting_id) DO UPDATE SET seq = GREATEST(notes_heads.seq, EXCLUDED.seq)
                    """, logger: logger)
            }
            progress?(total, total)
            return written
        }
    }

    public func pendingDeadlines() async throws -> [MeetingDeadline] {
        try await fetch(Meeting.self, "SELECT row_to_json(m)::text FROM meetings m WHERE status = 'live' AND time_box IS NOT NULL")
            .compactMap { m in m.timeBox.map { MeetingDeadline(spaceID: m.spaceID, meetingID: m.id, deadline: $0.deadline) } }
    }
}

extension PostgresStore {
    static func binds(_ values: [StoreValue]) throws -> PostgresBindings {
        var binds = PostgresBindings()
        for value in values {
            switch value {
            case let .text(s): binds.append(s)
            case let .int(i): binds.append(i)
            case let .double(d): binds.append(d)
            case let .bool(b): binds.append(b)
            case let .uuid(u): binds.append(u.uuidString)
            case let .date(d): binds.append(d.timeIntervalSince1970)
            case .null: binds.appendNull()
            }
        }
        return binds
    }

    public func rows<R: StoredRow>(_ type: R.Type, where filters: [RowFilter], order: [(String, Bool)], limit: Int?) async throws -> [R] {
        let (clause, values) = whereClause(filters, placeholder: { "$\($0 + 1)" })
        let sql = "SELECT row_to_json(t)::text FROM \(R.databaseTableName) t\(clause)\(orderClause(order))\(limit.map { " LIMIT \($0)" } ?? "")"
        return try await fetch(R.self, PostgresQuery(unsafeSQL: sql, binds: try Self.binds(values)))
    }

    public func count(_ table: String, where filters: [RowFilter]) async throws -> Int {
        let (clause, values) = whereClause(filters, placeholder: { "$\($0 + 1)" })
        return try await count(PostgresQuery(unsafeSQL: "SELECT count(*)::int8 FROM \(checkedColumn(table))\(clause)", binds: try Self.binds(values)))
    }

    @discardableResult
    public func write(_ writes: [RowWrite]) async throws -> [Int] {
        try await transaction { connection in
            var counts: [Int] = []
            for write in writes {
                switch write {
                case let .insert(row, ifAbsent):
                    counts.append(try await self.insert(row, ifAbsent: ifAbsent, upsert: false, on: connection) ? 1 : 0)
                case let .upsert(row):
                    counts.append(try await self.insert(row, ifAbsent: false, upsert: true, on: connection) ? 1 : 0)
                case let .update(table, set, filters):
                    let columns = set.keys.sorted()
                    let (clause, values) = whereClause(filters, placeholder: { "$\($0 + 1 + columns.count)" })
                    let assignments = columns.enumerated().map { "\(checkedColumn($1)) = $\($0 + 1)" }.joined(separator: ", ")
                    let query = PostgresQuery(unsafeSQL: "UPDATE \(checkedColumn(table)) SET \(assignments)\(clause) RETURNING 1::int8",
                                              binds: try Self.binds(columns.map { set[$0]! } + values))
                    counts.append(try await Self.rowCount(connection.query(query, logger: logger)))
                case let .delete(table, filters):
                    let (clause, values) = whereClause(filters, placeholder: { "$\($0 + 1)" })
                    let query = PostgresQuery(unsafeSQL: "DELETE FROM \(checkedColumn(table))\(clause) RETURNING 1::int8", binds: try Self.binds(values))
                    counts.append(try await Self.rowCount(connection.query(query, logger: logger)))
                }
            }
            return counts
        }
    }

    static func rowCount(_ rows: PostgresRowSequence) async throws -> Int {
        var n = 0
        for try await _ in rows { n += 1 }
        return n
    }

    private func insert<R: StoredRow>(_ row: R, ifAbsent: Bool, upsert: Bool, on connection: PostgresConnection) async throws -> Bool {
        try await write(row, into: .table(R.self), upsert: upsert, ignoreExisting: ifAbsent, on: connection)
    }
}

/// A table written through `jsonb_populate_record`, with what an upsert replaces.
struct PostgresTable: Sendable {
    var name: String
    var key: [String]
    var columns: [String]
    var duplicateMessage: String

    /// The table of a generic row type; an upsert replaces every column but the key.
    static func table<R: StoredRow>(_ type: R.Type) -> PostgresTable {
        PostgresTable(name: R.databaseTableName, key: R.keyColumns, columns: [], duplicateMessage: "That \(R.databaseTableName) row exists already")
    }

    /// `ON CONFLICT (key) DO UPDATE SET …` for these columns (the table's own list when it has one).
    func upsertClause(columns written: [String]) -> String {
        let updates = (columns.isEmpty ? written : columns).filter { !key.contains($0) }.map { "\(checkedColumn($0)) = EXCLUDED.\($0)" }
        return "ON CONFLICT (\(key.joined(separator: ", "))) DO UPDATE SET \(updates.joined(separator: ", "))"
    }

    static let users = PostgresTable(name: "users", key: ["id"], columns: ["id", "email", "name", "is_admin", "password_hash", "created_at"],
                                     duplicateMessage: "An account with this email already exists")
    static let spaces = PostgresTable(name: "spaces", key: ["id"], columns: ["id", "slug", "name", "description", "visibility", "created_at"],
                                      duplicateMessage: "That slug is taken; choose another")
    static let memberships = PostgresTable(name: "memberships", key: ["space_id", "user_id"], columns: ["space_id", "user_id", "role"],
                                           duplicateMessage: "Already a member")
    static let series = PostgresTable(name: "series", key: ["id"],
                                      columns: ["id", "space_id", "slug", "name", "description", "schedule", "settings", "created_at"],
                                      duplicateMessage: "This space already has a series with that slug")
    static let meetings = PostgresTable(name: "meetings", key: ["id"],
                                        columns: ["id", "series_id", "space_id", "date", "starts_at", "status", "skip_reason", "seq",
                                                  "started_at", "ended_at", "time_box"],
                                        duplicateMessage: "This series already has a meeting on that date")
    static let topics = PostgresTable(name: "topics", key: ["id"],
                                      columns: ["id", "meeting_id", "tag", "title", "description", "proposer_id", "proposer_name",
                                                "proposed_at", "status", "carried_from_id", "carried_to_id", "vote_history", "started_at",
                                                "ended_at", "time_box_minutes", "extensions_used", "discussion_order", "recorded_votes"],
                                      duplicateMessage: "That topic exists already")
    static let bullets = PostgresTable(name: "bullets", key: ["meeting_id", "id"],
                                       columns: ["meeting_id", "id", "parent", "order_key", "text", "rev", "deleted"],
                                       duplicateMessage: "That bullet exists already")
    static let noteOps = PostgresTable(name: "note_ops", key: ["meeting_id", "seq"],
                                       columns: ["meeting_id", "seq", "client", "client_seq", "user_id", "bullet", "kind", "change", "at"],
                                       duplicateMessage: "That notes sequence number is taken")
    static let notesHeads = PostgresTable(name: "notes_heads", key: ["meeting_id"], columns: ["meeting_id", "seq"],
                                          duplicateMessage: "That meeting has notes already")
    static let votes = PostgresTable(name: "votes", key: ["topic_id", "user_id"], columns: ["meeting_id", "topic_id", "user_id", "count"],
                                     duplicateMessage: "That vote exists already")
}
