import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL database is, read from a URL:
/// `postgres://user:password@host:port/database?sslmode=disable|require`
/// (or `?host=/run/postgresql` for a Unix socket directory).
public struct PostgresTarget: Sendable {
    public var host: String
    public var port: Int
    public var socketDirectory: String?
    public var user: String
    public var password: String?
    public var database: String
    public var requireTLS: Bool

    public init(url: String) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw StoreError.notFound("\"\(url.prefix(80))\" is not a postgres:// URL")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        port = components.port ?? 5432
        socketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        user = components.user ?? ProcessInfo.processInfo.environment["USER"] ?? "postgres"
        password = components.password
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        database = path.isEmpty ? user : path
        requireTLS = query["sslmode"] == "require"
    }

    var tls: PostgresClient.Configuration.TLS {
        requireTLS ? .require(TLSConfiguration.makeClientConfiguration()) : .disable
    }

    var clientConfiguration: PostgresClient.Configuration {
        if let socketDirectory {
            return .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        return .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
    }

    var connectionConfiguration: PostgresConnection.Configuration {
        if let socketDirectory {
            return .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        return .init(host: host, port: port, username: user, password: password, database: database,
                     tls: requireTLS ? .require(try! NIOSSLContext(configuration: .makeClientConfiguration())) : .disable)
    }

    /// One connection outside the pool (migrations, LISTEN).
    func connect(logger: Logger) async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration: connectionConfiguration, id: Int.random(in: 1...Int(Int32.max)), logger: logger)
    }
}

/// Schema migrations for PostgreSQL. Shipped migrations never change; add new ones at the end.
/// An advisory lock makes it safe for several instances to start at once.
enum PostgresMigrations {
    static let lockKey: Int64 = 0x486F7572 // "Hour"

    static let migrations: [(String, String)] = [
        ("v1-accounts-spaces-meetings", """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL,
            name TEXT NOT NULL,
            is_admin BOOLEAN NOT NULL DEFAULT false,
            password_hash TEXT NOT NULL DEFAULT '',
            created_at DOUBLE PRECISION NOT NULL
        );
        CREATE UNIQUE INDEX users_email ON users (lower(email));
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            expires_at DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX sessions_user ON sessions (user_id);
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE spaces (
            id TEXT PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
            created_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE memberships (
            space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('member', 'facilitator', 'owner')),
            PRIMARY KEY (space_id, user_id)
        );
        CREATE INDEX memberships_user ON memberships (user_id);
        CREATE TABLE series (
            id TEXT PRIMARY KEY,
            space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
            slug TEXT NOT NULL,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            schedule JSONB NOT NULL,
            settings JSONB NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            UNIQUE (space_id, slug)
        );
        CREATE TABLE meetings (
            id TEXT PRIMARY KEY,
            series_id TEXT NOT NULL REFERENCES series(id) ON DELETE CASCADE,
            space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
            date TEXT NOT NULL,
            starts_at DOUBLE PRECISION NOT NULL,
            status TEXT NOT NULL,
            skip_reason TEXT,
            seq BIGINT NOT NULL DEFAULT 0,
            started_at DOUBLE PRECISION,
            ended_at DOUBLE PRECISION,
            time_box JSONB,
            UNIQUE (series_id, date)
        );
        CREATE INDEX meetings_space ON meetings (space_id);
        CREATE INDEX meetings_live ON meetings (status) WHERE status = 'live';
        CREATE TABLE topics (
            id TEXT PRIMARY KEY,
            meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            proposer_id TEXT REFERENCES users(id) ON DELETE SET NULL,
            proposer_name TEXT NOT NULL,
            proposed_at DOUBLE PRECISION NOT NULL,
            status TEXT NOT NULL,
            carried_from_id TEXT,
            carried_to_id TEXT,
            vote_history JSONB NOT NULL DEFAULT '[]',
            started_at DOUBLE PRECISION,
            ended_at DOUBLE PRECISION,
            time_box_minutes INTEGER,
            extensions_used INTEGER NOT NULL DEFAULT 0,
            discussion_order INTEGER
        );
        CREATE INDEX topics_meeting ON topics (meeting_id);
        CREATE TABLE votes (
            meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
            topic_id TEXT NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            count INTEGER NOT NULL CHECK (count > 0),
            PRIMARY KEY (topic_id, user_id)
        );
        CREATE INDEX votes_meeting ON votes (meeting_id);
        """),
        ("v2-presence", """
        CREATE TABLE presence (
            instance_id TEXT NOT NULL,
            meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
            names JSONB NOT NULL,
            seen_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (meeting_id, instance_id)
        );
        """),
        ("v3-notes", """
        CREATE TABLE notes_heads (
            meeting_id TEXT PRIMARY KEY REFERENCES meetings(id) ON DELETE CASCADE,
            seq BIGINT NOT NULL
        );
        CREATE TABLE bullets (
            meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            parent TEXT NOT NULL,
            order_key TEXT NOT NULL,
            text TEXT NOT NULL,
            rev BIGINT NOT NULL,
            deleted BOOLEAN NOT NULL,
            PRIMARY KEY (meeting_id, id)
        );
        CREATE TABLE note_ops (
            meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
            seq BIGINT NOT NULL,
            client TEXT NOT NULL,
            client_seq BIGINT NOT NULL,
            user_id TEXT,
            bullet TEXT NOT NULL,
            kind TEXT NOT NULL,
            change TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (meeting_id, seq)
        );
        CREATE INDEX note_ops_client ON note_ops (meeting_id, client, client_seq);
        CREATE INDEX note_ops_bullet ON note_ops (meeting_id, bullet, seq);
        """),
        ("v4-search", """
        CREATE INDEX topics_search ON topics USING GIN (to_tsvector('simple', title || ' ' || description));
        CREATE INDEX bullets_search ON bullets USING GIN (to_tsvector('simple', text));
        """),
        ("v5-archive", """
        ALTER TABLE topics ADD COLUMN recorded_votes INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX topics_proposer ON topics (lower(proposer_name));
        CREATE INDEX bullets_action ON bullets (meeting_id) WHERE NOT deleted AND (text LIKE '[todo]%' OR text LIKE 'ACTION:%');
        """),
        ("v6-notify", notifyTablesSQL.replacingOccurrences(of: "DOUBLE", with: "DOUBLE PRECISION")),
        ("v8-comment-search", """
        CREATE INDEX comments_search ON comments USING GIN (to_tsvector('simple', body));
        """),
    ]

    static func run(_ target: PostgresTarget, logger: Logger) async throws {
        let connection = try await target.connect(logger: logger)
        do {
            try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())", logger: logger)
            var applied = Set<String>()
            for try await (name) in try await connection.query("SELECT name FROM schema_migrations", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            for (name, sql) in migrations where !applied.contains(name) {
                logger.notice("Applying PostgreSQL migration \(name)")
                try await connection.withTransaction(logger: logger) { connection in
                    // Static schema text shipped with the binary, never user input.
                    for statement in sql.components(separatedBy: ";\n") where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO schema_migrations (name) VALUES (\(name))", logger: logger)
                }
            }
            try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}
