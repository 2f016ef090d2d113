import Foundation
import HourglassCore
import Logging
import PostgresNIO
import Testing
@testable import HourglassStore

/// The store implementations the suite runs against: a real SQLite file always, and a real
/// PostgreSQL server when `HOURGLASS_TEST_POSTGRES_URL` names one (scripts/with-postgres.sh starts it).
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    static var postgresURL: String? { ProcessInfo.processInfo.environment["HOURGLASS_TEST_POSTGRES_URL"] }
    static var available: [Backend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }
    var testDescription: String { rawValue }
}

/// A fresh, empty store for one test.
struct StoreHandle: Sendable {
    let store: any HourglassStore
    /// The same data through a newly opened store (SQLite: a new pool on the same file).
    let reopen: @Sendable () async throws -> any HourglassStore
}

/// Runs `body` with an empty store of the given kind: a new SQLite file in a temporary directory,
/// or a new database on the test PostgreSQL server (its connection pool running meanwhile).
func withStore<T: Sendable>(_ backend: Backend, _ body: @Sendable (StoreHandle) async throws -> T) async throws -> T {
    switch backend {
    case .sqlite:
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hourglass-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("test.sqlite").path
        let handle = StoreHandle(store: try SQLiteStore(path: path), reopen: { try SQLiteStore(path: path) })
        return try await body(handle)
    case .postgres:
        let url = try await makeTestDatabase()
        let store = try await PostgresStore.open(url: url, logger: Logger(label: "test"))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await store.client.run()
                return nil
            }
            let result = try await body(StoreHandle(store: store, reopen: { store }))
            group.cancelAll()
            return result
        }
    }
}

/// Creates an empty database on the test server and returns its URL.
func makeTestDatabase() async throws -> String {
    guard let admin = Backend.postgresURL else { throw StoreError.notFound("HOURGLASS_TEST_POSTGRES_URL is not set") }
    let name = "hourglass_test_\(UUID().uuidString.prefix(8).lowercased())"
    let logger = Logger(label: "test")
    let connection = try await PostgresTarget(url: admin).connect(logger: logger)
    try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
    try await connection.close()
    var components = URLComponents(string: admin)!
    components.path = "/\(name)"
    return components.string!
}
