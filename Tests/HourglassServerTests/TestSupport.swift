import Foundation
import HourglassCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization
import Testing
@testable import HourglassServer

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let current: Mutex<Date>
    init(_ start: Date = Date(timeIntervalSince1970: 1_700_000_000)) { current = Mutex(start) }
    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

/// Remembers the setup link the app hands out on an empty database.
final class LinkBox: Sendable {
    private let value = Mutex<String?>(nil)
    func set(_ link: String) { value.withLock { $0 = link } }
    var link: String? { value.withLock { $0 } }
    var token: String? { link.flatMap { URLComponents(string: $0)?.queryItems?.first { $0.name == "token" }?.value } }
}

/// Builds the real application on a fresh SQLite file, with a hand-moved clock and cheap bcrypt.
struct TestApp {
    let clock = TestClock()
    let setup = LinkBox()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hourglass-app-\(UUID().uuidString)").path

    var configuration: AppConfiguration {
        let clock = clock
        let setup = setup
        return AppConfiguration(port: 0, dataDirectory: directory, bcryptCost: 4, logLevel: .critical,
                                timerInterval: .milliseconds(10), now: { clock.now }, onSetupLink: { setup.set($0) })
    }

    func run<Value>(_ test: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let app = try await buildApplication(configuration)
        let setup = setup
        return try await app.test(.live) { client in
            // The setup link is announced by a service as the app starts.
            for _ in 0..<500 where setup.link == nil { try await Task.sleep(for: .milliseconds(10)) }
            return try await test(client)
        }
    }
}

/// Answers read in tests.
struct Reply {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var text: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
}

extension TestClientProtocol {
    @discardableResult
    func call(_ method: HTTPRequest.Method, _ uri: String, json: [String: String]? = nil, raw: [UInt8]? = nil,
              form: String? = nil, token: String? = nil, headers extra: HTTPFields = [:]) async throws -> Reply {
        var headers = extra
        var body: ByteBuffer?
        if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(data: try JSONSerialization.data(withJSONObject: json))
        } else if let raw {
            headers[.contentType] = "application/json"
            body = ByteBuffer(bytes: raw)
        } else if let form {
            headers[.contentType] = "application/x-www-form-urlencoded"
            body = ByteBuffer(string: form)
        }
        if let token { headers[.cookie] = "hg_session=\(token)" }
        return try await execute(uri: uri, method: method, headers: headers, body: body) { response in
            Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }

    /// Creates the admin through the setup link and returns its session token.
    func setUpAdmin(_ app: TestApp) async throws -> String {
        let reply = try await call(.post, "/api/setup", json: ["token": app.setup.token ?? "", "name": "Fay Facilitator",
                                                               "email": "fay@example.com", "password": "correct horse"])
        #expect(reply.status == .created, "\(reply.text)")
        return reply.json["token"] as? String ?? ""
    }

    func signUp(_ name: String) async throws -> String {
        let reply = try await call(.post, "/api/signup", json: ["name": name, "email": "\(name.lowercased())@example.com", "password": "password \(name)"])
        #expect(reply.status == .created, "\(reply.text)")
        return reply.json["token"] as? String ?? ""
    }

    /// A space with a weekly series; returns the first meeting's API path.
    func makeMeeting(owner: String, visibility: String = "private", settings: [String: String] = [:]) async throws -> String {
        let space = try await call(.post, "/api/spaces", json: ["name": "Architecture Hour", "slug": "arch", "visibility": visibility], token: owner)
        #expect(space.status == .created, "\(space.text)")
        var fields = ["name": "Weekly", "slug": "weekly", "weekday": "3", "time": "14:00", "timeZone": "America/New_York"]
        fields.merge(settings) { $1 }
        let created = try await call(.post, "/api/spaces/arch/series", json: fields, token: owner)
        #expect(created.status == .created, "\(created.text)")
        let series = try await call(.get, "/api/spaces/arch/series/weekly", token: owner)
        let meetings = series.json["meetings"] as? [[String: Any]] ?? []
        let date = meetings.first?["date"] as? String ?? "none"
        return "/api/spaces/arch/series/weekly/meetings/\(date)"
    }

    func command(_ meeting: String, _ fields: [String: String], token: String?) async throws -> Reply {
        try await call(.post, meeting + "/commands", json: fields, token: token)
    }
}

extension Reply {
    var board: [String: Any] { json["board"] as? [String: Any] ?? [:] }
    var topics: [[String: Any]] { board["topics"] as? [[String: Any]] ?? [] }
    var clock: [String: Any]? { board["clock"] as? [String: Any] }
    var me: [String: Any] { json["me"] as? [String: Any] ?? [:] }
    var detail: String { json["detail"] as? String ?? "" }
}

extension TestClientProtocol {
    /// Opens the meeting's WebSocket as the person holding `token` (nil: signed out) and runs
    /// `body` with it; the socket closes when `body` returns.
    func withSocket(_ meeting: String, token: String?,
                    _ body: @escaping @Sendable (WebSocketInboundStream, WebSocketOutboundWriter) async throws -> Void) async throws {
        var headers = HTTPFields()
        if let token { headers[.cookie] = "hg_session=\(token)" }
        let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 20, additionalHeaders: headers)
        try await WebSocketClient.connect(url: "ws://localhost:\(port!)\(meeting)/live", configuration: configuration,
                                          logger: Logger(label: "test")) { inbound, outbound, _ in
            try await body(inbound, outbound)
        }
    }
}
