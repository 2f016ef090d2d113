import Foundation
import HourglassCore
import HourglassStore
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// Everything `hourglass serve` needs to know; tests build the real application from one of these.
public struct AppConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Directory holding the SQLite database.
    public var dataDirectory: String
    /// A postgres:// URL; when set, PostgreSQL is used instead of SQLite.
    public var databaseURL: String?
    /// Directory of the browser code (`Public/`).
    public var publicDirectory: String
    /// The address people open, used in the setup link; https here turns on Secure cookies.
    public var publicURL: String?
    public var bcryptCost: UInt8
    public var logLevel: Logger.Level
    /// How often the timer checks for time boxes that ran out.
    public var timerInterval: Duration
    /// The clock; tests inject their own.
    public var now: @Sendable () -> Date
    /// Receives the setup link when the database has no account yet.
    public var onSetupLink: @Sendable (String) -> Void
    /// Email, quiet period of edit digests, webhook rules.
    public var notify: NotifyConfiguration

    public init(host: String = "127.0.0.1", port: Int = 8080, dataDirectory: String = "hourglass-data", databaseURL: String? = nil,
                publicDirectory: String = AppConfiguration.defaultPublicDirectory(), publicURL: String? = nil,
                bcryptCost: UInt8 = 12, logLevel: Logger.Level = .info, timerInterval: Duration = .milliseconds(200),
                now: @escaping @Sendable () -> Date = { Date() }, onSetupLink: @escaping @Sendable (String) -> Void = { _ in },
                notify: NotifyConfiguration = NotifyConfiguration()) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.publicDirectory = publicDirectory
        self.publicURL = publicURL
        self.bcryptCost = bcryptCost
        self.logLevel = logLevel
        self.timerInterval = timerInterval
        self.now = now
        self.onSetupLink = onSetupLink
        self.notify = notify
    }

    /// `HOURGLASS_PUBLIC_DIR`, else `Public/` in the working directory, else the one in the source tree.
    public static func defaultPublicDirectory() -> String {
        if let dir = ProcessInfo.processInfo.environment["HOURGLASS_PUBLIC_DIR"] { return dir }
        if FileManager.default.fileExists(atPath: "Public/board.js") { return "Public" }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Public").standardized.path
    }

    var baseURL: String { publicURL ?? "http://\(host == "0.0.0.0" ? "localhost" : host):\(port)" }
}

/// The long-lived parts every route shares.
struct AppServices: Sendable {
    let store: any HourglassStore
    let hub: MeetingHub
    let boards: BoardService
    let auth: Authenticator
    let accounts: Operations
    let resolver: Resolver
    let live: LiveSocket
    let notes: NotesRooms
    let committer: NotesCommitter
    let archive: ArchiveService
    let notify: NotifyConfiguration
    /// Set when several instances may serve the same meetings (PostgreSQL).
    let presence: PresenceRelay?
    let now: @Sendable () -> Date

    init(store: any HourglassStore, configuration: AppConfiguration, sharesPresence: Bool, logger: Logger) {
        self.store = store
        now = configuration.now
        hub = MeetingHub()
        presence = sharesPresence ? PresenceRelay(store: store, hub: hub, now: now, logger: logger) : nil
        notes = NotesRooms(store: store, now: now)
        boards = BoardService(store: store, hub: hub, deadlines: DeadlineBook(), now: now, notes: notes)
        auth = Authenticator(store: store, bcryptCost: configuration.bcryptCost,
                             secureCookies: configuration.publicURL?.hasPrefix("https://") ?? false, now: now)
        accounts = Operations(store: store, auth: auth, now: now)
        resolver = Resolver(store: store)
        committer = NotesCommitter()
        archive = ArchiveService(store: store, now: now, baseURL: configuration.baseURL)
        notify = configuration.notify
        live = LiveSocket(boards: boards, notes: notes, committer: committer, presence: presence)
    }
}

/// An opened store and the services that must run for it to work.
public struct OpenedStore: Sendable {
    public var store: any HourglassStore
    /// The PostgreSQL client (its connection pool), when the store is PostgreSQL.
    public var client: PostgresClient?
}

extension AppServices {
    /// The committed notes of a meeting (the live room's copy when one is open here).
    func notesDocument(_ board: Board) async throws -> NotesDocument {
        if let room = await notes.existing(board.meeting.id) { return await room.document }
        let state = try await store.notes(meetingID: board.meeting.id)
        return NotesDocument(sections: board.sectionIDs, bullets: state.bullets)
    }
}

/// Opens PostgreSQL when a database URL is configured, otherwise SQLite under the data directory.
/// Migrations run here, before anything else touches the database.
public func openStore(_ configuration: AppConfiguration, logger: Logger) async throws -> OpenedStore {
    if let url = configuration.databaseURL {
        let store = try await PostgresStore.open(url: url, logger: logger)
        return OpenedStore(store: store, client: store.client)
    }
    try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
    guard case let .sqlite(path) = configuration.storeLocation else { preconditionFailure("a database URL opens PostgreSQL above") }
    return OpenedStore(store: try SQLiteStore(path: path), client: nil)
}

/// Builds the whole application: routes, middleware, WebSocket upgrades and background services.
public func buildApplication(_ configuration: AppConfiguration) async throws -> some ApplicationProtocol {
    var logger = Logger(label: "hourglass")
    logger.logLevel = configuration.logLevel
    let opened = try await openStore(configuration, logger: logger)
    let store = opened.store
    let services = AppServices(store: store, configuration: configuration, sharesPresence: opened.client != nil, logger: logger)

    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: FileMiddleware(configuration.publicDirectory, urlBasePath: "/public",
                                          cacheControl: .init([(MediaType(type: .any), [.noCache])]), logger: logger))
    router.add(middleware: SameOriginMiddleware())
    router.add(middleware: SessionMiddleware(store: store, now: configuration.now))
    router.get("healthz") { _, _ in "ok" }
    // Ready when the database answers and, with PostgreSQL, once this instance hears the others.
    let listening = NIOLockedValueBox(opened.client == nil)
    router.get("readyz") { _, _ -> Response in
        _ = try await store.userCount()
        guard listening.withLockedValue({ $0 }) else {
            throw AppError(.serviceUnavailable, "Not yet listening for changes from other instances")
        }
        return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ready")))
    }
    router.get("openapi.json") { _, _ in
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: OpenAPI.document)))
    }
    PageController(app: services).addRoutes(to: router)
    APIController(app: services).addRoutes(to: router)
    NotifyController(app: services).addRoutes(to: router)

    var app = Application(
        router: router,
        server: .http1WebSocketUpgrade(webSocketRouter: router,
                                       configuration: .init(maxFrameSize: LiveSocket.maxMessageSize, validateUTF8: true)),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Hourglass"),
        logger: logger
    )
    if let client = opened.client, let relay = services.presence {
        app.addServices(client)
        app.addServices(try PostgresFanout(url: configuration.databaseURL ?? "", logger: logger,
                                           onConnect: {
                                               await services.boards.catchUp()
                                               listening.withLockedValue { $0 = true }
                                           },
                                           onChange: { await services.boards.receive($0, presence: relay) }))
        app.addServices(PresenceHeartbeat(relay: relay))
    }
    app.addServices(services.committer)
    app.addServices(NotificationService(store: store, configuration: configuration.notify, baseURL: configuration.baseURL,
                                        now: configuration.now, logger: logger))
    app.addServices(SetupAnnouncer(store: store, configuration: configuration, logger: logger))
    app.addServices(TimerService(boards: services.boards, interval: configuration.timerInterval, logger: logger))
    return app
}

/// On an empty database, makes a one-time setup token and hands out its link, then stays until
/// shutdown (a service that returned would stop the whole group).
struct SetupAnnouncer: Service {
    let store: any HourglassStore
    let configuration: AppConfiguration
    let logger: Logger

    func run() async throws {
        if try await store.userCount() == 0 {
            let token = Authenticator.newToken()
            try await store.setSetupToken(hash: Authenticator.hash(token: token))
            let link = "\(configuration.baseURL)/setup?token=\(token)"
            logger.notice("No accounts yet. Open this one-time link to create the administrator: \(link)")
            configuration.onSetupLink(link)
        }
        try? await gracefulShutdown()
    }
}

/// Gives every request an id (or keeps the proxy's `X-Request-Id`) in its logger and response.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let incoming = request.headers[.xRequestID].flatMap { $0.count <= 64 ? $0 : nil }
        let id = incoming ?? String(UUID().uuidString.prefix(8)).lowercased()
        var context = context
        context.logger[metadataKey: "request"] = .string(id)
        var response = try await next(request, context)
        response.headers[.xRequestID] = id
        return response
    }
}

extension HTTPField.Name {
    static let xRequestID = Self("X-Request-Id")!
}

/// Creates an account from the command line (`hourglass user add`), bypassing the setup link.
public func createAccount(_ configuration: AppConfiguration, name: String, email: String, password: String, admin: Bool) async throws -> User {
    let (user, hash) = try await Authenticator.newAccount(name: name, email: email, password: password,
                                                          cost: configuration.bcryptCost, now: configuration.now())
    let account = User(id: user.id, email: user.email, name: user.name, isAdmin: admin, createdAt: user.createdAt)
    try await configuration.storeLocation.withStore(logger: Logger(label: "hourglass")) { store in
        try await store.createUser(account, passwordHash: hash)
    }
    return account
}

extension AppConfiguration {
    /// Where the configured store lives.
    public var storeLocation: StoreLocation {
        if let databaseURL { return .postgres(url: databaseURL) }
        return .sqlite(path: (dataDirectory as NSString).appendingPathComponent("hourglass.sqlite"))
    }
}

/// `hourglass search`: searches every space of the installation (a local shell is trusted like an
/// administrator) and returns the results as lines of text or as JSON.
public func searchFromCommandLine(_ configuration: AppConfiguration, query: String, space: String?, json: Bool) async throws -> String {
    try await configuration.storeLocation.withStore(logger: Logger(label: "hourglass")) { store in
        let results = try await SearchService(store: store).search(query, user: nil, everything: true, space: space, limit: 50)
        if json { return JSON.string(results) }
        if results.isEmpty { return "Nothing found." }
        return results.map { r in
            let snippet = r.snippet.replacingOccurrences(of: SearchHit.markStart, with: "«").replacingOccurrences(of: SearchHit.markEnd, with: "»")
            return "\(r.date)  \(r.spaceName) › \(r.seriesName)  \(r.kind == .bullet ? "Notes" : r.title)\n    \(snippet)\n    \(r.url)"
        }.joined(separator: "\n")
    }
}
