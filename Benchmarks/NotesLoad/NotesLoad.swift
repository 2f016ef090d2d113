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
    /// Longest wait after typing stops for every change to reach every client.
    var drain = 60.0
    /// How many clients (besides the typists, which must read their acknowledgements) read every
    /// entry; the others receive every frame but only count bytes. 0 means all of them.
    var observers = 0
    /// Digits only, so the index after the last letter of an id can be read back.
    var run = String(UInt32.random(in: 0...UInt32.max))

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
            case "--drain": drain = Double(value) ?? drain
            case "--observers": observers = Int(value) ?? observers
            case "--run": run = value
            default: fatalError("unknown option \(flag)")
            }
        }
        precondition(!urls.isEmpty && !cookie.isEmpty, "--url and --cookie are required")
        typists = min(typists, clients)
    }
}

/// Measurements: each client keeps its own while it runs and adds them here once at the end.
final class Stats: Sendable {
    struct State {
        var latencies: [UInt64] = []
        var frames = 0
        var bytes = 0
        /// Per client index: characters seen per typist bullet.
        var seen: [Int: [Int: Int]] = [:]
        /// Per typist: characters typed.
        var typed: [Int: Int] = [:]
        var errors: [String] = []
        var resyncs = 0
    }
    let state = NIOLockedValueBox(State())
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Fields of one entry of a notes frame, read by scanning bytes rather than a full JSON parse.
/// Entries are encoded with sorted keys:
/// {"at":…,"change":{"bullet":"B","kind":"text","op":[…],"rev":R},"client":"C","clientSeq":K,"seq":S,…}
struct Entry {
    var bullet: Int
    var client: Int
    var clientSeq: Int
    var rev: Int
    var inserted: Int
}

struct Scanner {
    let bytes: [UInt8]
    var index = 0

    /// Moves past the next occurrence of `pattern`; false when there is none.
    mutating func skip(past pattern: [UInt8]) -> Bool {
        guard let first = pattern.first else { return true }
        var i = index
        let end = bytes.count - pattern.count
        while i <= end {
            if bytes[i] == first {
                var j = 1
                while j < pattern.count && bytes[i + j] == pattern[j] { j += 1 }
                if j == pattern.count { index = i + pattern.count; return true }
            }
            i += 1
        }
        index = bytes.count
        return false
    }

    /// Reads a non-negative integer (after an optional non-digit prefix such as the `r…c` of an id).
    mutating func number() -> Int {
        while index < bytes.count, !(48...57).contains(bytes[index]) { index += 1 }
        var value = 0
        while index < bytes.count, (48...57).contains(bytes[index]) {
            value = value * 10 + Int(bytes[index] - 48)
            index += 1
        }
        return value
    }

    /// Counts `x` bytes up to the next `]`.
    mutating func countX() -> Int {
        var count = 0
        while index < bytes.count, bytes[index] != 93 {
            if bytes[index] == 120 { count += 1 }
            index += 1
        }
        return count
    }
}

let kindKey = Array(#""kind":""#.utf8)
let bulletKey = Array(#""bullet":""#.utf8), opKey = Array(#""op":["#.utf8), revKey = Array(#""rev":"#.utf8)
let clientKey = Array(#""client":""#.utf8), clientSeqKey = Array(#""clientSeq":"#.utf8), runSeparator = Array("b".utf8)

/// Ids look like r<run>b<index> and r<run>c<index>; the index follows the last letter.
func scanEntries(_ text: String) -> [Entry] {
    var scanner = Scanner(bytes: Array(text.utf8))
    var entries: [Entry] = []
    while scanner.skip(past: bulletKey) {
        _ = scanner.skip(past: runSeparator)
        let bullet = scanner.number()
        var inserted = 0
        var rev = -1
        // Only text changes have an op and a rev ("kind":"text"; the other kinds start with c, d, m).
        guard scanner.skip(past: kindKey) else { break }
        if scanner.index < scanner.bytes.count, scanner.bytes[scanner.index] == 116 {
            if scanner.skip(past: opKey) { inserted = scanner.countX() }
            if scanner.skip(past: revKey) { rev = scanner.number() }
        }
        guard scanner.skip(past: clientKey) else { break }
        _ = scanner.skip(past: Array("c".utf8))
        let client = scanner.number()
        guard scanner.skip(past: clientSeqKey) else { break }
        let clientSeq = scanner.number()
        entries.append(Entry(bullet: bullet, client: client, clientSeq: clientSeq, rev: rev, inserted: inserted))
    }
    return entries
}

/// What each typist typed in all, known once its last change came back.
final class Finals: Sendable {
    let state = NIOLockedValueBox([Int: Int]())
    let typists: Int
    init(typists: Int) { self.typists = typists }
    func set(_ typist: Int, _ count: Int) { state.withLockedValue { $0[typist] = count } }
    /// Every typist's final count, once all are known.
    var all: [Int: Int]? { state.withLockedValue { $0.count == typists ? $0 : nil } }
}

/// Keystroke times per typist, one lock each so readers of different typists never contend.
final class TypedAt: Sendable {
    let boxes: [NIOLockedValueBox<[Int: UInt64]>]
    init(typists: Int) { boxes = (0..<typists).map { _ in NIOLockedValueBox([:]) } }
    func set(_ typist: Int, _ clientSeq: Int, _ time: UInt64) { boxes[typist].withLockedValue { $0[clientSeq] = time } }
    func get(_ typist: Int, _ clientSeq: Int) -> UInt64? {
        typist < boxes.count ? boxes[typist].withLockedValue { $0[clientSeq] } : nil
    }
}

func runClient(index: Int, options: Options, stats: Stats, typedAt: TypedAt, finals: Finals, start: UInt64, logger: Logger) async {
    let url = options.urls[index % options.urls.count]
    let client = "r\(options.run)c\(index)"
    let bullet = "r\(options.run)b\(index)"
    let isTypist = index < options.typists
    /// Whether this client reads (and measures) every entry.
    let observes = isTypist || options.observers == 0 || index >= options.clients - options.observers
    let config = WebSocketClientConfiguration(maxFrameSize: 1 << 24, additionalHeaders: [.cookie: "hg_session=\(options.cookie)"])
    let stopAt = start + UInt64(options.seconds * 1e9)
    let quietUntil = stopAt + UInt64(options.drain * 1e9)
    let typedCount = NIOLockedValueBox(0)
    do {
        try await WebSocketClient.connect(url: url, configuration: config, logger: logger) { inbound, outbound, _ in
            // This client's own figures, added to `stats` once at the end.
            var latencies: [UInt64] = []
            var seen: [Int: Int] = [:]
            var frames = 0, bytes = 0, resyncs = 0
            var errors: [String] = []
            defer {
                let typed = typedCount.withLockedValue { $0 }
                stats.state.withLockedValue { s in
                    s.latencies += latencies
                    s.frames += frames
                    s.bytes += bytes
                    s.resyncs += resyncs
                    s.errors += errors
                    s.seen[index] = seen
                    if isTypist { s.typed[index] = typed }
                }
            }
            try await outbound.write(.text(#"{"type":"hello","client":"\#(client)","since":null}"#))
            var messages = inbound.messages(maxSize: 1 << 26).makeAsyncIterator()
            while let message = try await messages.next() {
                if case let .text(text) = message, text.hasPrefix(#"{"type":"notesSnapshot""#) { break }
            }
            // The typist: one operation in flight; what is typed meanwhile waits (ot.js client).
            let typing = NIOLockedValueBox((rev: 0, length: 0, clientSeq: 1, inFlight: false, waiting: [UInt64](), created: false))
            @Sendable func sendPending() async throws {
                let frame: String? = typing.withLockedValue { t in
                    guard t.created, !t.inFlight, !t.waiting.isEmpty else { return nil }
                    t.clientSeq += 1
                    t.inFlight = true
                    let count = t.waiting.count
                    typedAt.set(index, t.clientSeq, t.waiting.min()!)
                    t.waiting = []
                    let text = String(repeating: "x", count: count)
                    let op = t.length > 0 ? "[\(t.length),\"\(text)\"]" : "[\"\(text)\"]"
                    return #"{"type":"notes","id":"t","client":"\#(client)","changes":[{"clientSeq":\#(t.clientSeq),"kind":"text","bullet":"\#(bullet)","rev":\#(t.rev),"op":\#(op)}]}"#
                }
                if let frame { try await outbound.write(.text(frame)) }
            }
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
                        let begin = start + UInt64(Double(interval) * Double(index) / Double(max(1, options.typists)))
                        if begin > now() { try await Task.sleep(nanoseconds: begin - now()) }
                        var next = begin
                        while now() < stopAt {
                            typing.withLockedValue { $0.waiting.append(now()) }
                            typedCount.withLockedValue { $0 += 1 }
                            try await sendPending()
                            next += interval
                            if next > now() { try await Task.sleep(nanoseconds: next - now()) }
                        }
                        if typing.withLockedValue({ !$0.inFlight && $0.waiting.isEmpty }) {
                            finals.set(index, typedCount.withLockedValue { $0 })
                        }
                    }
                }
                do {
                    while let message = try await messages.next() {
                        guard case let .text(text) = message else { continue }
                        let arrived = now()
                        if text.hasPrefix(#"{"type":"notes","changes""#) {
                            frames += 1
                            bytes += text.utf8.count
                            guard observes else { continue }
                            var mine: [Entry] = []
                            for entry in scanEntries(text) {
                                if entry.client == index {
                                    mine.append(entry)
                                    continue
                                }
                                if let typed = typedAt.get(entry.client, entry.clientSeq) { latencies.append(arrived - typed) }
                                seen[entry.bullet, default: 0] += entry.inserted
                            }
                            for entry in mine {
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
                            if !mine.isEmpty && isTypist {
                                try await sendPending()
                                let finished = typing.withLockedValue { !$0.inFlight && $0.waiting.isEmpty } && arrived > stopAt
                                if finished { finals.set(index, typedCount.withLockedValue { $0 }) }
                            }
                            // Done when every typist has finished and everything they typed arrived here.
                            if observes, arrived > stopAt, let all = finals.all,
                               all.allSatisfy({ typist, count in typist == index || seen[typist, default: 0] == count }) {
                                try await outbound.close(.normalClosure, reason: nil)
                            }
                        } else if text.hasPrefix(#"{"type":"error""#) {
                            errors.append(String(text.prefix(200)))
                        } else if text.hasPrefix(#"{"type":"resync""#) {
                            resyncs += 1
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
        let typedAt = TypedAt(typists: options.typists)
        let finals = Finals(typists: options.typists)
        let start = now() + UInt64(3e9 + Double(options.clients) * 4e6) // typing starts once everyone is connected
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<options.clients {
                group.addTask {
                    // Connect gradually rather than all in the same millisecond.
                    try? await Task.sleep(nanoseconds: UInt64(index) * 2_000_000)
                    await runClient(index: index, options: options, stats: stats, typedAt: typedAt, finals: finals, start: start, logger: logger)
                }
            }
        }
        let s = stats.state.withLockedValue { $0 }
        let sorted = s.latencies.sorted()
        func percentile(_ p: Double) -> Double {
            sorted.isEmpty ? -1 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6
        }
        // Convergence: every client saw every character every other typist typed.
        var diverged = 0
        /// Incomplete pairs by (client's instance, typist's instance), to tell cross-instance gaps apart.
        var byInstance: [String: Int] = [:]
        let observing = (0..<options.clients).filter { $0 < options.typists || options.observers == 0 || $0 >= options.clients - options.observers }
        for index in observing {
            let seen = s.seen[index] ?? [:]
            for typist in 0..<options.typists where typist != index && (seen[typist] ?? 0) != (s.typed[typist] ?? 0) {
                diverged += 1
                byInstance["\(index % options.urls.count)<-\(typist % options.urls.count)", default: 0] += 1
            }
        }
        let report: [String: Any] = [
            "clients": options.clients, "typists": options.typists, "rate": options.rate, "seconds": options.seconds,
            "instances": options.urls.count, "observers": observing.count,
            "editsTyped": s.typed.values.reduce(0, +), "deliveries": sorted.count,
            "latencyMs": ["p50": percentile(0.5), "p95": percentile(0.95), "p99": percentile(0.99), "max": percentile(1.0)],
            "framesPerSecond": Double(s.frames) / options.seconds, "bytesPerSecond": Double(s.bytes) / options.seconds,
            "divergentClientBulletPairs": diverged, "incompleteByInstance": byInstance,
            "incompleteClients": Set((0..<options.clients).filter { index in
                observing.contains(index) && (0..<options.typists).contains { $0 != index && (s.seen[index]?[$0] ?? 0) != (s.typed[$0] ?? 0) }
            }).count, "resyncs": s.resyncs, "errors": Array(s.errors.prefix(5)), "errorCount": s.errors.count,
        ]
        let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        if diverged > 0 || !s.errors.isEmpty { exit(1) }
    }
}
