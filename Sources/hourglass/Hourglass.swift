import ArgumentParser
import Foundation
import HourglassCore
import HourglassServer
import HourglassStore
import Logging

@main
struct Hourglass: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Lean Coffee meetings end to end.",
        subcommands: [Serve.self, UserCommand.self, MigrateData.self, Search.self],
        defaultSubcommand: Serve.self
    )
}

/// Options shared by every command that opens the database.
struct StorageOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Directory of the SQLite database (env HOURGLASS_DATA_DIR).")
    var dataDirectory: String = ProcessInfo.processInfo.environment["HOURGLASS_DATA_DIR"] ?? "hourglass-data"
    @Option(name: .customLong("database"), help: "postgres://user@host:port/db to use PostgreSQL instead of SQLite (env HOURGLASS_DATABASE_URL).")
    var databaseURL: String? = ProcessInfo.processInfo.environment["HOURGLASS_DATABASE_URL"]
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the web server (SQLite under --data-dir).")

    @OptionGroup var storage: StorageOptions
    @Option(help: "Address to listen on.") var host: String = ProcessInfo.processInfo.environment["HOURGLASS_HOST"] ?? "127.0.0.1"
    @Option(help: "Port to listen on.") var port: Int = Int(ProcessInfo.processInfo.environment["HOURGLASS_PORT"] ?? "") ?? 8080
    @Option(name: .customLong("public-url"), help: "The URL people open (https turns on Secure cookies).")
    var publicURL: String? = ProcessInfo.processInfo.environment["HOURGLASS_PUBLIC_URL"]
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"
    @Option(name: .customLong("bcrypt-cost"), help: .hidden) var bcryptCost: UInt8 = 12

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardOutput(label: $0) }
        let configuration = AppConfiguration(host: host, port: port, dataDirectory: storage.dataDirectory, databaseURL: storage.databaseURL, publicURL: publicURL,
                                             bcryptCost: bcryptCost, logLevel: Logger.Level(rawValue: logLevel) ?? .info)
        try await buildApplication(configuration).runService()
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Manage accounts.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an account; the password is read from standard input.")

        @OptionGroup var storage: StorageOptions
        @Option(help: "Email address to sign in with.") var email: String
        @Option(help: "Display name.") var name: String
        @Flag(help: "Make the account an administrator.") var admin = false
        @Option(name: .customLong("bcrypt-cost"), help: .hidden) var bcryptCost: UInt8 = 12

        func run() async throws {
            let password = readLine(strippingNewline: true) ?? ""
            let configuration = AppConfiguration(dataDirectory: storage.dataDirectory, databaseURL: storage.databaseURL, bcryptCost: bcryptCost)
            do {
                let user = try await createAccount(configuration, name: name, email: email, password: password, admin: admin)
                print("Created \(user.isAdmin ? "administrator" : "account") \(user.email)")
            } catch let error as HourglassCore.ValidationError {
                throw ArgumentParser.ValidationError(error.description)
            } catch let error as StoreError {
                throw ArgumentParser.ValidationError(error.description)
            }
        }
    }
}

struct MigrateData: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-data",
        abstract: "Copy a whole installation between SQLite and PostgreSQL, verified by counts and checksums.",
        discussion: "The target must be empty. Example: hourglass migrate-data --from sqlite:hourglass-data/hourglass.sqlite --to postgres://hourglass@db/hourglass"
    )

    @Option(help: "sqlite:PATH or postgres://… to copy from.") var from: String
    @Option(help: "sqlite:PATH or postgres://… to copy into (must be empty).") var to: String
    @Flag(help: "Print the report as JSON.") var json = false

    func run() async throws {
        let logger = Logger(label: "hourglass")
        let source = try StoreLocation(from)
        let target = try StoreLocation(to)
        guard source != target else { throw ArgumentParser.ValidationError("--from and --to name the same store") }
        if case let .sqlite(path) = source, !FileManager.default.fileExists(atPath: path) {
            throw ArgumentParser.ValidationError("There is no SQLite database at \(path)")
        }
        do {
            let report = try await source.withStore(logger: logger) { sourceStore in
                try await target.withStore(logger: logger) { targetStore in
                    try await DataMigration.copy(from: sourceStore, to: targetStore)
                }
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                for (table, count) in report.counts.sorted(by: { $0.key < $1.key }) { print("\(table): \(count)") }
                print("checksum: \(report.checksum) (source and copy agree)")
            }
        } catch let error as StoreError {
            throw ArgumentParser.ValidationError(error.description)
        }
    }
}

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Search topics and notes of every space (words, \"phrases\", prefix*).")

    @OptionGroup var storage: StorageOptions
    @Argument(help: "What to look for.") var query: String
    @Option(help: "Only this space (its slug).") var space: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let configuration = AppConfiguration(dataDirectory: storage.dataDirectory, databaseURL: storage.databaseURL)
        do {
            print(try await searchFromCommandLine(configuration, query: query, space: space, json: json))
        } catch let error as AppError {
            throw ArgumentParser.ValidationError(error.message)
        }
    }
}
