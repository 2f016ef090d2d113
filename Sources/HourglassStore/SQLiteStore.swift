import Foundation
import GRDB
import HourglassCore

/// The embedded default store: one SQLite file in WAL mode behind a GRDB `DatabasePool`.
public struct SQLiteStore: HourglassStore {
    let writer: any DatabaseWriter

    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        writer = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(writer)
    }

    /// Migrations, in order. A migration never changes once it has shipped: add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-accounts-spaces-meetings") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY NOT NULL,
                    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
                    name TEXT NOT NULL,
                    is_admin BOOLEAN NOT NULL DEFAULT 0,
                    password_hash TEXT NOT NULL DEFAULT '',
                    created_at DOUBLE NOT NULL
                );
                CREATE TABLE sessions (
                    token_hash TEXT PRIMARY KEY NOT NULL,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    expires_at DOUBLE NOT NULL
                );
                CREATE INDEX sessions_user ON sessions(user_id);
                CREATE TABLE settings (
                    key TEXT PRIMARY KEY NOT NULL,
                    value TEXT NOT NULL
                );
                CREATE TABLE spaces (
                    id TEXT PRIMARY KEY NOT NULL,
                    slug TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    description TEXT NOT NULL DEFAULT '',
                    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
                    created_at DOUBLE NOT NULL
                );
                CREATE TABLE memberships (
                    space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    role TEXT NOT NULL CHECK (role IN ('member', 'facilitator', 'owner')),
                    PRIMARY KEY (space_id, user_id)
                );
                CREATE INDEX memberships_user ON memberships(user_id);
                CREATE TABLE series (
                    id TEXT PRIMARY KEY NOT NULL,
                    space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
                    slug TEXT NOT NULL,
                    name TEXT NOT NULL,
                    description TEXT NOT NULL DEFAULT '',
                    schedule TEXT NOT NULL,
                    settings TEXT NOT NULL,
                    created_at DOUBLE NOT NULL,
                    UNIQUE (space_id, slug)
                );
                CREATE TABLE meetings (
                    id TEXT PRIMARY KEY NOT NULL,
                    series_id TEXT NOT NULL REFERENCES series(id) ON DELETE CASCADE,
                    space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
                    date TEXT NOT NULL,
                    starts_at DOUBLE NOT NULL,
                    status TEXT NOT NULL,
                    skip_reason TEXT,
                    seq INTEGER NOT NULL DEFAULT 0,
                    started_at DOUBLE,
                    ended_at DOUBLE,
                    time_box TEXT,
                    UNIQUE (series_id, date)
                );
                CREATE INDEX meetings_space ON meetings(space_id);
                CREATE INDEX meetings_live ON meetings(status) WHERE status = 'live';
                CREATE TABLE topics (
                    id TEXT PRIMARY KEY NOT NULL,
                    meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
                    tag TEXT NOT NULL,
                    title TEXT NOT NULL,
                    description TEXT NOT NULL DEFAULT '',
                    proposer_id TEXT REFERENCES users(id) ON DELETE SET NULL,
                    proposer_name TEXT NOT NULL,
                    proposed_at DOUBLE NOT NULL,
                    status TEXT NOT NULL,
                    carried_from_id TEXT,
                    carried_to_id TEXT,
                    vote_history TEXT NOT NULL DEFAULT '[]',
                    started_at DOUBLE,
                    ended_at DOUBLE,
                    time_box_minutes INTEGER,
                    extensions_used INTEGER NOT NULL DEFAULT 0,
                    discussion_order INTEGER
                );
                CREATE INDEX topics_meeting ON topics(meeting_id);
                CREATE TABLE votes (
                    meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
                    topic_id TEXT NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    count INTEGER NOT NULL CHECK (count > 0),
                    PRIMARY KEY (topic_id, user_id)
                );
                CREATE INDEX votes_meeting ON votes(meeting_id);
                """)
        }
        migrator.registerMigration("v2-presence") { db in
            try db.execute(sql: """
                CREATE TABLE presence (
                    instance_id TEXT NOT NULL,
                    meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
                    names TEXT NOT NULL,
                    seen_at DOUBLE NOT NULL,
                    PRIMARY KEY (meeting_id, instance_id)
                );
                """)
        }
        migrator.registerMigration("v3-notes") { db in
            try db.execute(sql: """
                CREATE TABLE notes_heads (
                    meeting_id TEXT PRIMARY KEY NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
                    seq INTEGER NOT NULL
                );
                CREATE TABLE bullets (
                    meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
                    id TEXT NOT NULL,
                    parent TEXT NOT NULL,
                    order_key TEXT NOT NULL,
                    text TEXT NOT NULL,
                    rev INTEGER NOT NULL,
                    deleted BOOLEAN NOT NULL,
                    PRIMARY KEY (meeting_id, id)
                );
                CREATE TABLE note_ops (
                    meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
                    seq INTEGER NOT NULL,
                    client TEXT NOT NULL,
                    client_seq INTEGER NOT NULL,
                    user_id TEXT,
                    bullet TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    change TEXT NOT NULL,
                    at DOUBLE NOT NULL,
                    PRIMARY KEY (meeting_id, seq)
                );
                CREATE INDEX note_ops_client ON note_ops (meeting_id, client, client_seq);
                CREATE INDEX note_ops_bullet ON note_ops (meeting_id, bullet, seq);
                """)
        }
        migrator.registerMigration("v4-search") { db in
            // External-content FTS5 tables kept in sync by triggers, so an edit is searchable as
            // soon as it commits.
            try db.execute(sql: fullTextIndex("topics", columns: ["title", "description"], prefixes: false)
                           + fullTextIndex("bullets", columns: ["text"], prefixes: false))
        }
        migrator.registerMigration("v5-archive") { db in
            try db.execute(sql: """
                ALTER TABLE topics ADD COLUMN recorded_votes INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX topics_proposer ON topics (proposer_name COLLATE NOCASE);
                CREATE INDEX bullets_action ON bullets (meeting_id) WHERE NOT deleted AND (text LIKE '[todo]%' OR text LIKE 'ACTION:%');
                """)
        }
        migrator.registerMigration("v6-notify") { db in
            try db.execute(sql: notifyTablesSQL)
        }
        migrator.registerMigration("v7-search-prefixes") { db in
            // Prefix indexes for 1 to 3 characters: `t*` reads one index entry instead of every word.
            try db.execute(sql: "DROP TABLE topics_fts; DROP TABLE bullets_fts;"
                           + fullTextIndex("topics", columns: ["title", "description"], triggers: false)
                           + fullTextIndex("bullets", columns: ["text"], triggers: false))
        }
        migrator.registerMigration("v8-comment-search") { db in
            try db.execute(sql: fullTextIndex("comments", columns: ["body"]))
        }
        return migrator
    }

    /// An external-content FTS5 index of `table`'s `columns`, kept in sync by triggers (so an edit
    /// is searchable as soon as it commits) and filled from the table's rows. With `prefixes`,
    /// prefixes of 1 to 3 characters are indexed too (`t*` reads one entry, not every word).
    static func fullTextIndex(_ table: String, columns: [String], prefixes: Bool = true, triggers: Bool = true) -> String {
        let fts = "\(table)_fts", list = columns.joined(separator: ", ")
        let new = columns.map { "new.\($0)" }.joined(separator: ", "), old = columns.map { "old.\($0)" }.joined(separator: ", ")
        var sql = """
            CREATE VIRTUAL TABLE \(fts) USING fts5(\(list), content='\(table)', content_rowid='rowid',
                tokenize='unicode61 remove_diacritics 2'\(prefixes ? ", prefix='1 2 3'" : ""));

            """
        if triggers {
            sql += """
                CREATE TRIGGER \(fts)_insert AFTER INSERT ON \(table) BEGIN
                    INSERT INTO \(fts)(rowid, \(list)) VALUES (new.rowid, \(new));
                END;
                CREATE TRIGGER \(fts)_delete AFTER DELETE ON \(table) BEGIN
                    INSERT INTO \(fts)(\(fts), rowid, \(list)) VALUES ('delete', old.rowid, \(old));
                END;
                CREATE TRIGGER \(fts)_update AFTER UPDATE OF \(list) ON \(table) BEGIN
                    INSERT INTO \(fts)(\(fts), rowid, \(list)) VALUES ('delete', old.rowid, \(old));
                    INSERT INTO \(fts)(rowid, \(list)) VALUES (new.rowid, \(new));
                END;

                """
        }
        return sql + "INSERT INTO \(fts)(\(fts)) VALUES ('rebuild');\n"
    }

    // MARK: Accounts

    public func userCount() async throws -> Int {
        try await writer.read { db in try User.fetchCount(db) }
    }

    public func createUser(_ user: User, passwordHash: String) async throws {
        try await writer.write { db in try Self.insert(user, passwordHash: passwordHash, db) }
    }

    private static func insert(_ user: User, passwordHash: String, _ db: Database) throws {
        do {
            try user.insert(db)
            try db.execute(sql: "UPDATE users SET password_hash = ? WHERE id = ?", arguments: [passwordHash, user.id.lowercased])
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw StoreError.duplicate("An account with this email already exists")
        }
    }

    public func createFirstAdmin(_ user: User, passwordHash: String, setupTokenHash: String) async throws {
        try await writer.write { db in
            let pending = try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'setup_token_hash'")
            guard let pending, constantTimeEqual(pending, setupTokenHash), try !Self.hasAdmin(db) else {
                throw StoreError.setupClosed
            }
            var admin = user
            admin.isAdmin = true
            try Self.insert(admin, passwordHash: passwordHash, db)
            try db.execute(sql: "DELETE FROM settings WHERE key = 'setup_token_hash'")
        }
    }

    private static func hasAdmin(_ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM users WHERE is_admin)") ?? false
    }

    public func setSetupToken(hash: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO settings (key, value) VALUES ('setup_token_hash', ?)", arguments: [hash])
        }
    }

    public func hasPendingSetupToken() async throws -> Bool {
        try await writer.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM settings WHERE key = 'setup_token_hash') AND NOT EXISTS (SELECT 1 FROM users WHERE is_admin)
                """) ?? false
        }
    }

    public func user(id: UUID) async throws -> User? {
        try await writer.read { db in try User.fetchOne(db, key: id.lowercased) }
    }

    public func user(email: String) async throws -> User? {
        try await writer.read { db in try User.filter(Column("email") == email).fetchOne(db) }
    }

    public func credentials(email: String) async throws -> Credentials? {
        try await writer.read { db in
            guard let user = try User.filter(Column("email") == email).fetchOne(db) else { return nil }
            let hash = try String.fetchOne(db, sql: "SELECT password_hash FROM users WHERE id = ?", arguments: [user.id.lowercased]) ?? ""
            return Credentials(user: user, passwordHash: hash)
        }
    }

    public func createSession(tokenHash: String, userID: UUID, expiresAt: Date, now: Date) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE expires_at < ?", arguments: [now.timeIntervalSince1970])
            try db.execute(sql: "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
                           arguments: [tokenHash, userID.lowercased, expiresAt.timeIntervalSince1970])
        }
    }

    public func user(sessionTokenHash: String, now: Date) async throws -> User? {
        try await writer.read { db in
            try User.fetchOne(db, sql: """
                SELECT users.* FROM sessions JOIN users ON users.id = sessions.user_id
                WHERE sessions.token_hash = ? AND sessions.expires_at > ?
                """, arguments: [sessionTokenHash, now.timeIntervalSince1970])
        }
    }

    public func deleteSession(tokenHash: String) async throws {
        try await writer.write { db in try db.execute(sql: "DELETE FROM sessions WHERE token_hash = ?", arguments: [tokenHash]) }
    }

    // MARK: Spaces

    public func createSpace(_ space: Space, owner: UUID) async throws {
        try await writer.write { db in
            do {
                try space.insert(db)
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
                throw StoreError.duplicate("The slug \"\(space.slug)\" is taken; choose another")
            }
            try Membership(spaceID: space.id, userID: owner, role: .owner).insert(db)
        }
    }

    public func space(slug: String) async throws -> Space? {
        try await writer.read { db in try Space.filter(Column("slug") == slug).fetchOne(db) }
    }

    public func spaces(visibleTo user: User?) async throws -> [Space] {
        try await writer.read { db in
            if user?.isAdmin == true { return try Space.order(Column("name").collating(.localizedCaseInsensitiveCompare)).fetchAll(db) }
            return try Space.fetchAll(db, sql: """
                SELECT * FROM spaces
                WHERE visibility = 'public'
                   OR id IN (SELECT space_id FROM memberships WHERE user_id = ?)
                ORDER BY name COLLATE NOCASE
                """, arguments: [user?.id.lowercased])
        }
    }

    public func updateSpace(_ space: Space) async throws {
        try await writer.write { db in try space.update(db) }
    }

    public func membership(spaceID: UUID, userID: UUID) async throws -> Membership? {
        try await writer.read { db in
            try Membership.filter(Column("space_id") == spaceID.lowercased && Column("user_id") == userID.lowercased).fetchOne(db)
        }
    }

    public func members(spaceID: UUID) async throws -> [Member] {
        try await writer.read { db in
            let memberships = try Membership.filter(Column("space_id") == spaceID.lowercased).fetchAll(db)
            let users = try User.fetchAll(db, keys: memberships.map { $0.userID.lowercased })
            let byID = Dictionary(uniqueKeysWithValues: users.map { ($0.id, $0) })
            return memberships.compactMap { m in byID[m.userID].map { Member(user: $0, role: m.role) } }
                .sorted { $0.user.name.localizedCaseInsensitiveCompare($1.user.name) == .orderedAscending }
        }
    }

    public func setMembership(_ membership: Membership) async throws {
        try await writer.write { db in try membership.upsert(db) }
    }

    public func removeMembership(spaceID: UUID, userID: UUID) async throws {
        try await writer.write { db in
            _ = try Membership.filter(Column("space_id") == spaceID.lowercased && Column("user_id") == userID.lowercased).deleteAll(db)
        }
    }

    // MARK: Series and meetings

    public func createSeries(_ series: Series, firstMeeting: Meeting) async throws {
        try await writer.write { db in
            do {
                try series.insert(db)
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
                throw StoreError.duplicate("This space already has a series with the slug \"\(series.slug)\"")
            }
            try firstMeeting.insert(db)
        }
    }

    public func series(spaceID: UUID) async throws -> [Series] {
        try await writer.read { db in
            try Series.filter(Column("space_id") == spaceID.lowercased).order(Column("name")).fetchAll(db)
        }
    }

    public func series(spaceID: UUID, slug: String) async throws -> Series? {
        try await writer.read { db in
            try Series.filter(Column("space_id") == spaceID.lowercased && Column("slug") == slug).fetchOne(db)
        }
    }

    public func updateSeries(_ series: Series) async throws {
        try await writer.write { db in try series.update(db) }
    }

    public func meetings(spaceID: UUID, seriesID: UUID) async throws -> [Meeting] {
        try await writer.read { db in
            try Meeting.filter(Column("space_id") == spaceID.lowercased && Column("series_id") == seriesID.lowercased)
                .order(Column("date").desc).fetchAll(db)
        }
    }

    public func createMeeting(_ meeting: Meeting) async throws {
        try await writer.write { db in
            do {
                try meeting.insert(db)
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
                throw StoreError.duplicate("This series already has a meeting on \(meeting.date)")
            }
        }
    }

    public func meeting(spaceID: UUID, seriesID: UUID, date: LocalDate) async throws -> Meeting? {
        try await writer.read { db in
            try Meeting.filter(Column("space_id") == spaceID.lowercased && Column("series_id") == seriesID.lowercased
                               && Column("date") == date.description).fetchOne(db)
        }
    }

    public func board(spaceID: UUID, meetingID: UUID) async throws -> Board? {
        try await writer.read { db in try Self.loadBoard(spaceID: spaceID, meetingID: meetingID, db) }
    }

    static func loadBoard(spaceID: UUID, meetingID: UUID, _ db: Database) throws -> Board? {
        guard let meeting = try Meeting.filter(Column("id") == meetingID.lowercased && Column("space_id") == spaceID.lowercased).fetchOne(db),
              let series = try Series.fetchOne(db, key: meeting.seriesID.lowercased) else { return nil }
        let topics = try Topic.filter(Column("meeting_id") == meetingID.lowercased).order(Column("proposed_at"), Column("id")).fetchAll(db)
        let rows = try VoteRow.filter(Column("meeting_id") == meetingID.lowercased).fetchAll(db)
        var votes: [Board.VoteKey: Int] = [:]
        for row in rows { votes[Board.VoteKey(topicID: row.topicID, userID: row.userID)] = row.count }
        return Board(meeting: meeting, settings: series.settings, topics: topics, votes: votes)
    }

    public func apply(_ command: BoardCommand, by actor: Actor?, spaceID: UUID, meetingID: UUID, now: Date) async throws -> [Board] {
        try await writer.write { db in
            guard let old = try Self.loadBoard(spaceID: spaceID, meetingID: meetingID, db) else {
                throw StoreError.notFound("No such meeting")
            }
            let new = try old.apply(command, by: actor, at: now)
            let next = new.closesMeeting(from: old) ? try Self.nextBoard(after: new.meeting, now: now, db) : nil
            return try boardChanges(old: old, new: new, next: next, now: now).compactMap { pair in
                guard let writes = BoardWrites(old: pair.old, new: pair.new, now: now) else { return nil }
                try writes.board.meeting.save(db)
                for event in writes.events { try event.insert(db) }
                for watch in writes.watches { try watch.insert(db, onConflict: .ignore) }
                for topic in writes.topics { try topic.upsert(db) }
                for row in writes.votes { try row.upsert(db) }
                for key in writes.deletedVotes {
                    try db.execute(sql: "DELETE FROM votes WHERE topic_id = ? AND user_id = ?",
                                   arguments: [key.topicID.lowercased, key.userID.lowercased])
                }
                return writes.board
            }
        }
    }

    /// The next open meeting of the series, created from the schedule when there is none yet.
    private static func nextBoard(after meeting: Meeting, now: Date, _ db: Database) throws -> Board {
        let next = try Meeting
            .filter(Column("series_id") == meeting.seriesID.lowercased && Column("date") > meeting.date.description)
            .filter([MeetingStatus.upcoming.rawValue, MeetingStatus.live.rawValue].contains(Column("status")))
            .order(Column("date")).fetchOne(db)
        if let next, let board = try loadBoard(spaceID: next.spaceID, meetingID: next.id, db) { return board }
        guard let series = try Series.fetchOne(db, key: meeting.seriesID.lowercased) else { throw StoreError.notFound("No such series") }
        var created = series.newMeeting(after: meeting.startsAt, now: now)
        while try Meeting.filter(Column("series_id") == series.id.lowercased && Column("date") == created.date.description).fetchCount(db) > 0 {
            created = series.newMeeting(after: created.startsAt, now: now)
        }
        try created.insert(db)
        return Board(meeting: created, settings: series.settings)
    }

    public func pendingDeadlines() async throws -> [MeetingDeadline] {
        try await writer.read { db in
            try Meeting.filter(Column("status") == MeetingStatus.live.rawValue && Column("time_box") != nil).fetchAll(db)
                .compactMap { meeting in
                    meeting.timeBox.map { MeetingDeadline(spaceID: meeting.spaceID, meetingID: meeting.id, deadline: $0.deadline) }
                }
        }
    }
}

extension SQLiteStore {
    public func notes(meetingID: UUID) async throws -> NotesState {
        try await writer.read { db in
            let id = meetingID.lowercased
            let bullets = try BulletRow.filter(Column("meeting_id") == id).fetchAll(db).map(\.bullet)
            let seq = try Int.fetchOne(db, sql: "SELECT seq FROM notes_heads WHERE meeting_id = ?", arguments: [id]) ?? 0
            var clients: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT client, max(client_seq) AS last FROM note_ops WHERE meeting_id = ? GROUP BY client", arguments: [id]) {
                clients[row["client"]] = row["last"]
            }
            return NotesState(bullets: bullets, seq: seq, clientSeqs: clients)
        }
    }

    public func commitNotes(spaceID: UUID, meetingID: UUID, knownSeq: Int,
                            _ decide: @Sendable ([NoteEntry]) throws -> NotesCommit) async throws -> NotesCommit {
        try await writer.write { db in
            let id = meetingID.lowercased
            guard let meeting = try Meeting.filter(Column("id") == id && Column("space_id") == spaceID.lowercased).fetchOne(db) else {
                throw StoreError.notFound("No such meeting")
            }
            let stored = try Int.fetchOne(db, sql: "SELECT seq FROM notes_heads WHERE meeting_id = ?", arguments: [id]) ?? 0
            let missed = stored == knownSeq ? [] : try NoteOpRow.filter(Column("meeting_id") == id && Column("seq") > knownSeq)
                .order(Column("seq")).fetchAll(db).map { try $0.entry() }
            let commit = try decide(missed)
            for entry in commit.entries { try NoteOpRow(meetingID: meetingID, entry).insert(db) }
            for bullet in commit.bullets { try BulletRow(meetingID: meetingID, bullet).upsert(db) }
            if let last = commit.entries.last?.seq {
                try db.execute(sql: "INSERT INTO notes_heads (meeting_id, seq) VALUES (?, ?) ON CONFLICT (meeting_id) DO UPDATE SET seq = excluded.seq",
                               arguments: [id, last])
            }
            let effects = commit.sideEffects(spaceID: spaceID, meetingID: meetingID, status: meeting.status, now: commit.entries.last?.at ?? Date())
            for watch in effects.watches { try watch.insert(db, onConflict: .ignore) }
            if let digest = effects.digest {
                try db.execute(sql: "INSERT INTO notes_digests (meeting_id, space_id, from_seq, to_seq, last_change_at) VALUES (?, ?, ?, ?, ?) " + digestUpsertSQL,
                               arguments: [id, spaceID.lowercased, digest.fromSeq, digest.toSeq, digest.lastChangeAt.timeIntervalSince1970])
            }
            return commit
        }
    }

    public func noteEntries(meetingID: UUID, after seq: Int, limit: Int) async throws -> [NoteEntry] {
        try await writer.read { db in
            try NoteOpRow.filter(Column("meeting_id") == meetingID.lowercased && Column("seq") > seq)
                .order(Column("seq")).limit(limit).fetchAll(db).map { try $0.entry() }
        }
    }

    public func textHistory(meetingID: UUID, bullet: String, fromRev: Int) async throws -> [TextOperation] {
        try await writer.read { db in
            try NoteOpRow.filter(Column("meeting_id") == meetingID.lowercased && Column("bullet") == bullet && Column("kind") == "text")
                .order(Column("seq")).fetchAll(db).map { try $0.entry() }
        }.textOperations(bullet: bullet, fromRev: fromRev)
    }

    /// Ranking is bounded: only the newest `searchCandidates` matches of each kind are ranked with
    /// BM25, so a common word or a short prefix costs no more than a rare one.
    static let searchCandidates = 500

    public func search(_ terms: SearchTerms, filter: SearchFilter) async throws -> [SearchHit] {
        guard !terms.isEmpty, !filter.spaceIDs.isEmpty else { return [] }
        let match = terms.fts5
        return try await writer.read { db in
            var conditions = ["m.space_id IN (\(databaseQuestionMarks(count: filter.spaceIDs.count)))"]
            var arguments: [(any DatabaseValueConvertible)?] = filter.spaceIDs.map(\.lowercased)
            if let series = filter.seriesID { conditions.append("m.series_id = ?"); arguments.append(series.lowercased) }
            if let from = filter.from { conditions.append("m.date >= ?"); arguments.append(from.description) }
            if let to = filter.to { conditions.append("m.date <= ?"); arguments.append(to.description) }
            let meetingFilter = conditions.joined(separator: " AND ")
            var topicConditions: [String] = []
            var topicArguments: [(any DatabaseValueConvertible)?] = []
            if let tag = filter.tag { topicConditions.append("t.tag = ?"); topicArguments.append(tag) }
            if let proposer = filter.proposer { topicConditions.append("t.proposer_name LIKE ? ESCAPE '\\'"); topicArguments.append("%\(likeEscaped(proposer))%") }
            let topicFilter = topicConditions.isEmpty ? "" : " AND " + topicConditions.joined(separator: " AND ")
            // One pass over the index: the newest matches that pass the filters are ranked (BM25), the
            // best `limit` of them kept; snippets are made from their text, not by the index.
            let topics = try Row.fetchAll(db, sql: """
                SELECT * FROM (
                    SELECT t.id, t.meeting_id, m.space_id, m.series_id, m.date, t.title, t.description, bm25(topics_fts, 4.0, 1.0) AS rank
                    FROM topics_fts JOIN topics t ON t.rowid = topics_fts.rowid JOIN meetings m ON m.id = t.meeting_id
                    WHERE topics_fts MATCH ? AND t.status <> 'withdrawn' AND \(meetingFilter)\(topicFilter)
                    ORDER BY topics_fts.rowid DESC LIMIT \(Self.searchCandidates))
                ORDER BY rank LIMIT ?
                """, arguments: StatementArguments([match] + arguments + topicArguments + [filter.limit]))
            let hits = try topics.map { row in
                let title: String = row["title"], description: String = row["description"]
                return SearchHit(kind: .topic, spaceID: try uuid(row["space_id"]), seriesID: try uuid(row["series_id"]),
                                 meetingID: try uuid(row["meeting_id"]), meetingDate: LocalDate(row["date"] as String) ?? LocalDate(Date(), in: .gmt),
                                 topicID: try uuid(row["id"]), bulletID: nil, title: title,
                                 snippet: terms.snippet(of: description.isEmpty ? title : title + " — " + description), rank: row["rank"])
            }
            // Bullets have no tag or proposer: with those filters only topics are searched.
            guard filter.tag == nil, filter.proposer == nil else { return hits }
            let bullets = try Row.fetchAll(db, sql: """
                SELECT * FROM (
                    SELECT b.id, b.meeting_id, m.space_id, m.series_id, m.date, b.text, bm25(bullets_fts) AS rank
                    FROM bullets_fts JOIN bullets b ON b.rowid = bullets_fts.rowid JOIN meetings m ON m.id = b.meeting_id
                    WHERE bullets_fts MATCH ? AND NOT b.deleted AND \(meetingFilter)
                    ORDER BY bullets_fts.rowid DESC LIMIT \(Self.searchCandidates))
                ORDER BY rank LIMIT ?
                """, arguments: StatementArguments([match] + arguments + [filter.limit]))
            let bulletHits = try bullets.map { row in
                SearchHit(kind: .bullet, spaceID: try uuid(row["space_id"]), seriesID: try uuid(row["series_id"]),
                          meetingID: try uuid(row["meeting_id"]), meetingDate: LocalDate(row["date"] as String) ?? LocalDate(Date(), in: .gmt),
                          topicID: nil, bulletID: row["id"], title: "Notes", snippet: terms.snippet(of: row["text"]), rank: row["rank"])
            }
            let comments = try Row.fetchAll(db, sql: """
                SELECT * FROM (
                    SELECT c.id, c.meeting_id, c.topic_id, m.space_id, m.series_id, m.date, c.author_name, c.body, bm25(comments_fts) AS rank
                    FROM comments_fts JOIN comments c ON c.rowid = comments_fts.rowid JOIN meetings m ON m.id = c.meeting_id
                    WHERE comments_fts MATCH ? AND \(meetingFilter)
                    ORDER BY comments_fts.rowid DESC LIMIT \(Self.searchCandidates))
                ORDER BY rank LIMIT ?
                """, arguments: StatementArguments([match] + arguments + [filter.limit]))
            let commentHits = try comments.map { row in
                SearchHit(kind: .comment, spaceID: try uuid(row["space_id"]), seriesID: try uuid(row["series_id"]),
                          meetingID: try uuid(row["meeting_id"]), meetingDate: LocalDate(row["date"] as String) ?? LocalDate(Date(), in: .gmt),
                          topicID: (row["topic_id"] as String?).flatMap(UUID.init(uuidString:)), bulletID: nil,
                          title: "Comment by \(row["author_name"] as String)", snippet: terms.snippet(of: row["body"]), rank: row["rank"],
                          commentID: try uuid(row["id"]))
            }
            return SearchHit.merged(hits, bulletHits, commentHits, limit: filter.limit)
        }
    }

    public func topicIndex(spaceID: UUID) async throws -> [TopicRef] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT t.*, m.series_id AS meeting_series_id, m.date AS meeting_date FROM topics t JOIN meetings m ON m.id = t.meeting_id
                WHERE m.space_id = ? AND t.status <> 'withdrawn' ORDER BY m.date, t.discussion_order, t.proposed_at
                """, arguments: [spaceID.lowercased]).map { row in
                TopicRef(topic: try Topic(row: row), seriesID: try uuid(row["meeting_series_id"]),
                         meetingDate: LocalDate(row["meeting_date"] as String) ?? LocalDate(Date(), in: .gmt))
            }
        }
    }

    public func topicCounts(spaceID: UUID, meetingIDs: [UUID]) async throws -> [UUID: Int] {
        guard !meetingIDs.isEmpty else { return [:] }
        return try await writer.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT t.meeting_id, count(*) AS n FROM topics t JOIN meetings m ON m.id = t.meeting_id
                WHERE m.space_id = ? AND t.status <> 'withdrawn' AND t.meeting_id IN (\(databaseQuestionMarks(count: meetingIDs.count)))
                GROUP BY t.meeting_id
                """, arguments: StatementArguments([spaceID.lowercased] + meetingIDs.map(\.lowercased)))
            return try Dictionary(uniqueKeysWithValues: rows.map { (try uuid($0["meeting_id"]), $0["n"] as Int) })
        }
    }

    public func actionBullets(spaceID: UUID) async throws -> [ActionBullet] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT b.*, m.series_id AS meeting_series_id, m.date AS meeting_date FROM bullets b JOIN meetings m ON m.id = b.meeting_id
                WHERE m.space_id = ? AND NOT b.deleted AND (\(Self.actionCondition)) ORDER BY m.date, b.order_key
                """, arguments: [spaceID.lowercased]).map { row in
                let bullet = try BulletRow(row: row)
                return ActionBullet(spaceID: spaceID, seriesID: try uuid(row["meeting_series_id"]), meetingID: bullet.meetingID,
                                    meetingDate: LocalDate(row["meeting_date"] as String) ?? LocalDate(Date(), in: .gmt), bullet: bullet.bullet)
            }
        }
    }

    /// Bullet texts that may be action items (`ActionItem` decides), as SQL shared by both stores.
    static let actionCondition = (ActionItem.openMarkers + ActionItem.doneMarkers)
        .map { "lower(ltrim(b.text)) LIKE '\($0)%'" }.joined(separator: " OR ")

    static func bind(_ value: StoreValue) -> (any DatabaseValueConvertible)? {
        switch value {
        case let .text(s): s
        case let .int(i): i
        case let .double(d): d
        case let .bool(b): b
        case let .uuid(u): u.lowercased
        case let .date(d): d.timeIntervalSince1970
        case .null: nil
        }
    }

    public func rows<R: StoredRow>(_ type: R.Type, where filters: [RowFilter], order: [(String, Bool)], limit: Int?) async throws -> [R] {
        let (clause, values) = whereClause(filters, placeholder: { _ in "?" })
        let sql = "SELECT * FROM \(R.databaseTableName)\(clause)\(orderClause(order))\(limit.map { " LIMIT \($0)" } ?? "")"
        return try await writer.read { db in try R.fetchAll(db, sql: sql, arguments: StatementArguments(values.map(Self.bind))) }
    }

    public func count(_ table: String, where filters: [RowFilter]) async throws -> Int {
        let (clause, values) = whereClause(filters, placeholder: { _ in "?" })
        return try await writer.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM \(checkedColumn(table))\(clause)", arguments: StatementArguments(values.map(Self.bind))) ?? 0
        }
    }

    @discardableResult
    public func write(_ writes: [RowWrite]) async throws -> [Int] {
        try await writer.write { db in
            try writes.map { write in
                switch write {
                case let .insert(row, ifAbsent):
                    try row.insert(db, onConflict: ifAbsent ? .ignore : .abort)
                case let .upsert(row):
                    try row.insert(db, onConflict: .replace)
                case let .update(table, set, filters):
                    let columns = set.keys.sorted()
                    let (clause, values) = whereClause(filters, placeholder: { _ in "?" })
                    try db.execute(sql: "UPDATE \(checkedColumn(table)) SET \(columns.map { "\(checkedColumn($0)) = ?" }.joined(separator: ", "))\(clause)",
                                   arguments: StatementArguments(columns.map { Self.bind(set[$0]!) } + values.map(Self.bind)))
                case let .delete(table, filters):
                    let (clause, values) = whereClause(filters, placeholder: { _ in "?" })
                    try db.execute(sql: "DELETE FROM \(checkedColumn(table))\(clause)", arguments: StatementArguments(values.map(Self.bind)))
                }
                return db.changesCount
            }
        }
    }

    public func savePresence(instanceID: UUID, spaceID: UUID, meetingID: UUID, names: [String], now: Date) async throws {
        let json = String(decoding: try JSONEncoder().encode(names), as: UTF8.self)
        try await writer.write { db in
            if names.isEmpty {
                try db.execute(sql: "DELETE FROM presence WHERE meeting_id = ? AND instance_id = ?", arguments: [meetingID.lowercased, instanceID.lowercased])
            } else {
                try db.execute(sql: """
                    INSERT INTO presence (instance_id, meeting_id, names, seen_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (meeting_id, instance_id) DO UPDATE SET names = excluded.names, seen_at = excluded.seen_at
                    """, arguments: [instanceID.lowercased, meetingID.lowercased, json, now.timeIntervalSince1970])
            }
        }
    }

    public func presence(meetingID: UUID, excluding instanceID: UUID, freshSince: Date) async throws -> [String] {
        let rows = try await writer.read { db in
            try String.fetchAll(db, sql: "SELECT names FROM presence WHERE meeting_id = ? AND instance_id <> ? AND seen_at >= ?",
                                arguments: [meetingID.lowercased, instanceID.lowercased, freshSince.timeIntervalSince1970])
        }
        return rows.flatMap { (try? JSONDecoder().decode([String].self, from: Data($0.utf8))) ?? [] }
    }

    public func exportSnapshot() async throws -> StoreSnapshot {
        try await writer.read { db in
            var snapshot = StoreSnapshot()
            let hashes = try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT id, password_hash FROM users").map {
                (($0["id"] as String).lowercased(), $0["password_hash"] as String)
            })
            snapshot.users = try User.fetchAll(db).map { StoreSnapshot.Account(user: $0, passwordHash: hashes[$0.id.lowercased] ?? "") }
            snapshot.spaces = try Space.fetchAll(db)
            snapshot.memberships = try Membership.fetchAll(db)
            snapshot.series = try Series.fetchAll(db)
            snapshot.meetings = try Meeting.fetchAll(db)
            snapshot.topics = try Topic.fetchAll(db)
            snapshot.votes = try VoteRow.fetchAll(db)
            snapshot.bullets = try BulletRow.fetchAll(db)
            snapshot.noteOps = try NoteOpRow.fetchAll(db)
            snapshot.notesHeads = try NotesHead.fetchAll(db)
            return snapshot
        }
    }

    public func importSnapshot(_ snapshot: StoreSnapshot) async throws {
        try await writer.write { db in
            guard try User.fetchCount(db) == 0, try Space.fetchCount(db) == 0 else {
                throw StoreError.duplicate("The target already has accounts or spaces; migrate into an empty database")
            }
            for account in snapshot.users { try Self.insert(account.user, passwordHash: account.passwordHash, db) }
            for space in snapshot.spaces { try space.insert(db) }
            for membership in snapshot.memberships { try membership.insert(db) }
            for series in snapshot.series { try series.insert(db) }
            for meeting in snapshot.meetings { try meeting.insert(db) }
            for topic in snapshot.topics { try topic.insert(db) }
            for vote in snapshot.votes { try vote.insert(db) }
            for bullet in snapshot.bullets { try bullet.insert(db) }
            for op in snapshot.noteOps { try op.insert(db) }
            for head in snapshot.notesHeads { try head.insert(db) }
        }
    }

    public func merge(_ content: StoreSnapshot, progress: (@Sendable (Int, Int) -> Void)?) async throws -> [String: Int] {
        try await writer.write { db in
            var written: [String: Int] = [:]
            var done = 0
            let total = content.contentRowCount
            func add<R: StoredRecord>(_ rows: [R], _ table: String) throws {
                for row in rows {
                    try row.insert(db, onConflict: .ignore)
                    written[table, default: 0] += db.changesCount
                    done += 1
                    if done % 1000 == 0 { progress?(done, total) }
                }
            }
            for series in content.series {
                let before = try Series.fetchOne(db, key: series.id.lowercased)
                if before != series { written["series", default: 0] += 1 }
                try series.save(db)
            }
            try add(content.meetings, "meetings")
            try add(content.topics, "topics")
            try add(content.votes, "votes")
            try add(content.bullets, "bullets")
            try add(content.noteOps, "note_ops")
            for head in content.notesHeads {
                try db.execute(sql: """
                    INSERT INTO notes_heads (meeting_id, seq) VALUES (?, ?)
                    ON CONFLICT (meeting_id) DO UPDATE SET seq = max(seq, excluded.seq)
                    """, arguments: [head.meetingID.lowercased, head.seq])
            }
            progress?(total, total)
            return written
        }
    }
}

extension UUID {
    /// The text form every table stores.
    var lowercased: String { uuidString.lowercased() }
}

/// A stored id as a UUID.
func uuid(_ text: String?) throws -> UUID {
    guard let text, let id = UUID(uuidString: text) else { throw StoreError.notFound("A stored id is not a UUID") }
    return id
}

/// Escapes `%`, `_` and the escape character for a LIKE pattern.
func likeEscaped(_ text: String) -> String {
    text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
}

/// Compares two secrets without leaking where they differ through timing.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let (x, y) = (Array(a.utf8), Array(b.utf8))
    guard x.count == y.count else { return false }
    return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
}
