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
        subcommands: [Serve.self, UserCommand.self, MigrateData.self, Search.self, Import.self, Export.self],
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
    @Option(name: .customLong("smtp-host"), help: "SMTP server for email notifications (env HOURGLASS_SMTP_HOST); none: no email.")
    var smtpHost: String? = ProcessInfo.processInfo.environment["HOURGLASS_SMTP_HOST"]
    @Option(name: .customLong("smtp-port"), help: "SMTP port (env HOURGLASS_SMTP_PORT).")
    var smtpPort: Int = Int(ProcessInfo.processInfo.environment["HOURGLASS_SMTP_PORT"] ?? "") ?? 25
    @Option(name: .customLong("smtp-from"), help: "Sender of notification email (env HOURGLASS_SMTP_FROM).")
    var smtpFrom: String = ProcessInfo.processInfo.environment["HOURGLASS_SMTP_FROM"] ?? "Hourglass <hourglass@localhost>"
    @Option(name: .customLong("notes-quiet-minutes"), help: "Edits after a meeting are sent as one digest once the notes were quiet this long.")
    var quietMinutes: Double = Double(ProcessInfo.processInfo.environment["HOURGLASS_NOTES_QUIET_MINUTES"] ?? "") ?? 10
    @Option(name: .customLong("reminder-minutes"), help: "Watchers of a series get the agenda this long before a meeting (0: no reminders).")
    var reminderMinutes: Double = 60
    @Option(name: .customLong("agenda-delay-minutes"), help: "New proposals are gathered this long before watchers hear about them (once a day at most).")
    var agendaDelayMinutes: Double = 10
    @Option(name: .customLong("daily-digest-hour"), help: "Hour (UTC) after which daily email digests go out.")
    var dailyDigestHour: Int = 7
    @Flag(name: .customLong("allow-private-webhooks"), help: "Let webhooks call loopback, private and link-local addresses.")
    var allowPrivateWebhooks = ProcessInfo.processInfo.environment["HOURGLASS_ALLOW_PRIVATE_WEBHOOKS"] == "1"
    @Option(name: .customLong("notify-interval-ms"), help: .hidden) var notifyIntervalMs: Int = 1000

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardOutput(label: $0) }
        guard quietMinutes >= 0, reminderMinutes >= 0, agendaDelayMinutes >= 0, (0...23).contains(dailyDigestHour), (10...60_000).contains(notifyIntervalMs) else {
            throw ArgumentParser.ValidationError("--notes-quiet-minutes and --reminder-minutes must not be negative")
        }
        let notify = NotifyConfiguration(smtp: smtpHost.map { SMTPConfiguration(host: $0, port: smtpPort, from: smtpFrom) },
                                         quietPeriod: quietMinutes * 60, allowPrivateWebhooks: allowPrivateWebhooks,
                                         reminderLead: reminderMinutes * 60, dailyDigestHour: dailyDigestHour, agendaDelay: agendaDelayMinutes * 60,
                                         interval: .milliseconds(notifyIntervalMs))
        let configuration = AppConfiguration(host: host, port: port, dataDirectory: storage.dataDirectory, databaseURL: storage.databaseURL, publicURL: publicURL,
                                             bcryptCost: bcryptCost, logLevel: Logger.Level(rawValue: logLevel) ?? .info, notify: notify)
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

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a notes page (plain text or Markdown) or a JSON export into a space.",
        discussion: """
        Plain text: dated headings (2022-12-14), topic lines such as "[quest] (Jeremy) Title" or "[Ned] Title", \
        leading * marks as votes, the lines under a topic as its notes. Markdown: the same with headings and \
        nested lists. All or nothing, in one transaction; importing the same file again changes nothing. \
        Use - to read standard input.
        """
    )

    @OptionGroup var storage: StorageOptions
    @Argument(help: "The file to read (- for standard input).") var file: String
    @Option(help: "The space to import into (its slug).") var space: String
    @Option(help: "The series (name or slug); created if missing. Optional when the space has one series.") var series: String?
    @Flag(help: "Print a JSON summary (meetings, topics, bullets, votes, rows written).") var json = false

    func run() async throws {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let read = FileManager.default.contents(atPath: file) else { throw CommandFailure("Cannot read \(file)") }
            data = read
        }
        let configuration = AppConfiguration(dataDirectory: storage.dataDirectory, databaseURL: storage.databaseURL)
        let bar = ProgressBar(enabled: isatty(STDERR_FILENO) == 1 && !json)
        do {
            let summary = try await importFromCommandLine(configuration, data: data, space: space, series: series,
                                                          progress: { done, total in bar.show(done, total) })
            bar.finish()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(summary), as: UTF8.self))
            } else {
                let written = summary.written.values.reduce(0, +)
                print("Read \(summary.meetings) meetings, \(summary.topics) topics, \(summary.bullets) bullets, \(summary.votes) votes into \(summary.space)/\(summary.series).")
                print(written == 0 ? "Nothing new: everything in the file is there already." :
                        "Wrote " + summary.written.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + ".")
            }
        } catch let error as ArchiveImportError {
            bar.finish()
            throw CommandFailure("\(file): \(error.description)")
        } catch let error as AppError {
            bar.finish()
            throw CommandFailure(error.message)
        } catch let error as StoreError {
            bar.finish()
            throw CommandFailure(error.description)
        }
    }
}

/// A one-line progress bar on standard error, redrawn in place.
final class ProgressBar: @unchecked Sendable {
    let enabled: Bool
    private let lock = NSLock()
    private var shown = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        lock.withLock {
            let width = 30
            let filled = min(width, done * width / total)
            let line = "\rWriting [" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] \(done * 100 / total)% (\(done)/\(total) rows)"
            FileHandle.standardError.write(Data(line.utf8))
            shown = true
        }
    }

    func finish() {
        lock.withLock {
            if shown { FileHandle.standardError.write(Data("\n".utf8)) }
            shown = false
        }
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export a space, a series or one meeting (markdown, html, json, confluence or atom).")

    @OptionGroup var storage: StorageOptions
    @Option(help: "The space (its slug).") var space: String
    @Option(help: "Only this series (its slug).") var series: String?
    @Option(help: "Only the meeting on this date (needs --series).") var meeting: String?
    @Option(help: "markdown, html, json, confluence or atom.") var format: String = "markdown"
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

    func run() async throws {
        let configuration = AppConfiguration(dataDirectory: storage.dataDirectory, databaseURL: storage.databaseURL,
                                             publicURL: ProcessInfo.processInfo.environment["HOURGLASS_PUBLIC_URL"])
        do {
            let body = try await exportFromCommandLine(configuration, space: space, series: series, meeting: meeting, format: format)
            if let output {
                try Data(body.utf8).write(to: URL(fileURLWithPath: output))
            } else {
                FileHandle.standardOutput.write(Data(body.utf8))
            }
        } catch let error as AppError {
            throw CommandFailure(error.message)
        }
    }
}

/// A command that failed for a reason other than its usage: printed as "Error: …" without the usage text.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
