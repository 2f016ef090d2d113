// A load generator for the live notes: N WebSocket clients on one meeting, W of which type into
// their own bullet at a steady rate, as ot.js clients do (one operation in flight per bullet; what
// is typed meanwhile is sent as one operation when the previous one comes back). Every client
// reads every change and records, for changes made by others, the time from the keystroke to its
// arrival. At the end it checks that every client saw every change and prints JSON figures.
//
//   hourglass-notes-bench --url ws://127.0.0.1:8080/api/spaces/s/series/r/meetings/2026-12-02/live \
//       [--url ws://second-instance/...] --cookie TOKEN --clients 1000 --typists 100 --seconds 20 --rate 5
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WSClient

struct Options: Sendable {
    var urls: [String] = []
    var cookie = ""
    var clients = 100
    var typists = 100
    var seconds = 20.0
    var rate = 5.0
    var run = String(UInt32.random(in: 0...UInt32.max), radix: 36)

    init(_ arguments: [String]) {
        var it = arguments.dropFirst().makeIterator()
        while let flag = it.next() {
            let value = it.next() ?? ""
            switch flag {
            case "--url": urls.append(value)
            case "--cookie": cookie = value
            case "--clients": clients = Int(value) ?? clients
            case "--typists": typists = Int(value) ?? typists
            case "--seconds": seconds = Double(value) ?? seconds
            case "--rate": rate = Double(value) ?? rate
            case "--run": run = value
            default: fatalError("unknown option \(flag)")
            }
        }
        precondition(!urls.isEmpty && !cookie.isEmpty, "--url and --cookie are required")
        typists = min(typists, clients)
    }
}

/// Shared measurements, behind one lock.
final class Stats: Sendable {
    struct State {
        /// Keystroke time per (typist, clientSeq).
        var typedAt: [String: [Int: UInt64]] = [:]
        var latencies: [UInt64] = []
        var frames = 0
        var bytes = 0
        /// Per client: bullet → (rev, inserted characters) as seen.
        var seen: [String: [String: (rev: Int, chars: Int)]] = [:]
        var typed: [String: Int] = [:]
        var errors: [String] = []
        var resyncs = 0
    }
    let state = NIOLockedValueBox(State())
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Fields of one entry of a notes frame, read by scanning rather than a full JSON parse.
struct Entry {
    var client: Substring
    var clientSeq: Int
    var bullet: Substring
    var rev: Int
    var inserted: Int
}

func scanEntries(_ text: String) -> [Entry] {
    var entries: [Entry] = []
    var rest = Substring(text)
    func value(after key: String, in s: Substring) -> Substring? {
        guard let range = s.range(of: key) else { return nil }
        let start = range.upperBound
        if s[start] == "\"" {
            let from = s.index(after: start)
            guard let end = s[from...].firstIndex(of: "\"") else { return nil }
            return s[from..<end]
        }
        let end = s[start...].firstIndex { $0 == "," || $0 == "}" || $0 == "]" } ?? s.endIndex
        return s[start..<end]
    }
    // Entries are objects with sorted keys: {"at":…,"change":{"bullet":…,"kind":…,"op":[…],"rev":…},"client":…,"clientSeq":…,"seq":…,…}
    while let start = rest.range(of: "{\"at\":") {
        rest = rest[start.lowerBound...]
        let next = rest.dropFirst().range(of: "{\"at\":")?.lowerBound ?? rest.endIndex
        let object = rest[..<next]
        if let client = value(after: "\"client\":", in: object), let clientSeq = value(after: "\"clientSeq\":", in: object).flatMap({ Int($0) }),
           let bullet = value(after: "\"bullet\":", in: object) {
            let rev = value(after: "\"rev\":", in: object).flatMap { Int($0) } ?? -1
            let inserted = object.range(of: "\"op\":").map { r in object[r.upperBound...].prefix { $0 != "]" }.filter { $0 == "x" }.count } ?? 0
            entries.append(Entry(client: client, clientSeq: clientSeq, bullet: bullet, rev: rev, inserted: inserted))
        }
        rest = rest[next...]
    }
    return entries
}

func runClient(index: Int, options: Options, stats: Stats, start: UInt64, logger: Logger) async {
    let url = options.urls[index % options.urls.count]
    let client = "r\(options.run)c\(index)"
    let bullet = "r\(options.run)b\(index)"
    let isTypist = index < options.typists
    let config = WebSocketClientConfiguration(maxFrameSize: 1 << 24, additionalHeaders: [.cookie: "hg_session=\(options.cookie)"])
    let stopAt = start + UInt64(options.seconds * 1e9)
    do {
        try await WebSocketClient.connect(url: url, configuration: config, logger: logger) { inbound, outbound, _ in
            try await outbound.write(.text(#"{"type":"hello","client":"\#(client)","since":null}"#))
            var messages = inbound.messages(maxSize: 1 << 26).makeAsyncIterator()
            // Wait for the snapshot before typing.
            while let message = try await messages.next() {
                if case let .text(text) = message, text.hasPrefix(#"{"type":"notesSnapshot""#) { break }
            }
            // The typist state: one operation in flight, the rest typed meanwhile waits.
            let typing = NIOLockedValueBox((rev: 0, length: 0, clientSeq: 1, inFlight: false, waiting: [UInt64](), created: false))
            @Sendable func sendPending() async throws {
                let frame: String? = typing.withLockedValue { t in
                    guard t.created, !t.inFlight, !t.waiting.isEmpty else { return nil }
                    t.clientSeq += 1
                    t.inFlight = true
                    let count = t.waiting.count
                    stats.state.withLockedValue { s in s.typedAt[client, default: [:]][t.clientSeq] = t.waiting.min()! }
                    t.waiting = []
                    let op = t.length > 0 ? "[\(t.length),\"\(String(repeating: "x", count: count))\"]" : "[\"\(String(repeating: "x", count: count))\"]"
                    return #"{"type":"notes","id":"t","client":"\#(client)","changes":[{"clientSeq":\#(t.clientSeq),"kind":"text","bullet":"\#(bullet)","rev":\#(t.rev),"op":\#(op)}]}"#
                }
                if let frame { try await outbound.write(.text(frame)) }
            }
            let quietUntil = stopAt + 5_000_000_000
            try await withThrowingTaskGroup(of: Void.self) { group in
                // After typing stops and the stream has had time to drain, hang up.
                group.addTask {
                    let wait = quietUntil > now() ? quietUntil - now() : 0
                    try await Task.sleep(nanoseconds: wait)
                    try await outbound.close(.normalClosure, reason: nil)
                }
                if isTypist {
                    try await outbound.write(.text(#"{"type":"notes","id":"c","client":"\#(client)","changes":[{"clientSeq":1,"kind":"create","bullet":"\#(bullet)","parent":"meeting","order":"V\#(index)V","text":""}]}"#))
                    group.addTask {
                        let interval = UInt64(1e9 / options.rate)
                        // Everyone is connected by `start`; typists are spread over the first interval.
                        let offset = UInt64(Double(interval) * Double(index) / Double(max(1, options.typists)))
                        let begin = start + offset
                        if begin > now() { try await Task.sleep(nanoseconds: begin - now()) }
                        while now() < stopAt {
                            typing.withLockedValue { $0.waiting.append(now()) }
                            stats.state.withLockedValue { $0.typed[client, default: 0] += 1 }
                            try await sendPending()
                            try await Task.sleep(nanoseconds: interval)
                        }
                    }
                }
                do {
                    while let message = try await messages.next() {
                        guard case let .text(text) = message else { continue }
                        let arrived = now()
                        if text.hasPrefix(#"{"type":"notes","changes""#) {
                            let entries = scanEntries(text)
                            var mine = false
                            stats.state.withLockedValue { s in
                                s.frames += 1
                                s.bytes += text.utf8.count
                                for entry in entries {
                                    if entry.client == Substring(client) {
                                        mine = true
                                        continue
                                    }
                                    if let typed = s.typedAt[String(entry.client)]?[entry.clientSeq] { s.latencies.append(arrived - typed) }
                                    var seen = s.seen[client, default: [:]][String(entry.bullet)] ?? (rev: 0, chars: 0)
                                    if entry.rev >= 0 { seen.rev = entry.rev + 1 }
                                    seen.chars += entry.inserted
                                    s.seen[client, default: [:]][String(entry.bullet)] = seen
                                }
                            }
                            for entry in entries where entry.client == Substring(client) {
                                typing.withLockedValue { t in
                                    if entry.clientSeq == 1 {
                                        t.created = true
                                    } else {
                                        t.rev = entry.rev + 1
                                        t.length += entry.inserted
                                        t.inFlight = false
                                    }
                                }
                            }
                            if mine && isTypist { try await sendPending() }
                        } else if text.hasPrefix(#"{"type":"error""#) {
                            stats.state.withLockedValue { $0.errors.append(String(text.prefix(200))) }
                        } else if text.hasPrefix(#"{"type":"resync""#) {
                            stats.state.withLockedValue { $0.resyncs += 1 }
                        }
                    }
                }
                group.cancelAll()
            }
        }
    } catch {
        stats.state.withLockedValue { $0.errors.append("client \(index): \(error)") }
    }
}

@main
struct NotesLoad {
    nonisolated static func main() async throws {
        let options = Options(CommandLine.arguments)
        let logger: Logger = {
            var logger = Logger(label: "bench")
            logger.logLevel = .critical
            return logger
        }()
        let stats = Stats()
        let start = now() + 3_000_000_000 // typing starts once everyone is connected
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<options.clients {
                group.addTask {
                    // Connect gradually rather than all in the same millisecond.
                    try? await Task.sleep(nanoseconds: UInt64(index) * 2_000_000)
                    await runClient(index: index, options: options, stats: stats, start: start, logger: logger)
                }
            }
        }
        let s = stats.state.withLockedValue { $0 }
        let sorted = s.latencies.sorted()
        func percentile(_ p: Double) -> Double {
            sorted.isEmpty ? -1 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6
        }
        // Convergence: every client saw every typist's final revision and every character typed.
        let typedTotal = s.typed.values.reduce(0, +)
        var diverged = 0
        for index in 0..<options.clients {
            let client = "r\(options.run)c\(index)"
            let seen = s.seen[client] ?? [:]
            for typist in 0..<options.typists where typist != index {
                let chars = seen["r\(options.run)b\(typist)"]?.chars ?? 0
                if chars != s.typed["r\(options.run)c\(typist)"] ?? 0 {
                    diverged += 1
                    if ProcessInfo.processInfo.environment["BENCH_DEBUG"] != nil {
                        FileHandle.standardError.write(Data("client \(index) typist \(typist): saw \(chars) typed \(s.typed["r\(options.run)c\(typist)"] ?? 0)\n".utf8))
                    }
                }
            }
        }
        let elapsed = options.seconds
        let report: [String: Any] = [
            "clients": options.clients, "typists": options.typists, "rate": options.rate, "seconds": options.seconds,
            "instances": options.urls.count,
            "editsTyped": typedTotal, "deliveries": sorted.count,
            "latencyMs": ["p50": percentile(0.5), "p95": percentile(0.95), "p99": percentile(0.99), "max": percentile(1.0)],
            "framesPerSecond": Double(s.frames) / elapsed, "bytesPerSecond": Double(s.bytes) / elapsed,
            "divergentClientBulletPairs": diverged, "resyncs": s.resyncs, "errors": Array(s.errors.prefix(5)), "errorCount": s.errors.count,
        ]
        let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        if diverged > 0 || !s.errors.isEmpty { exit(1) }
    }
}
