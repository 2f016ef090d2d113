// A load generator for the live notes: N WebSocket clients on one meeting, W of which type into
// their own bullet at a steady rate, as ot.js clients do (one operation in flight per bullet; what
// is typed meanwhile is sent as one operation when the previous one comes back). Every client
// reads every change in sequence order and records, for changes made by others, the time from
// the keystroke to its arrival. A client that is told to resync, or whose connection drops,
// catches up from its last sequence number as the browser client does. At the end it checks
// that every client saw every character of every typist and prints JSON figures.
//
//   hourglass-notes-bench --url ws://127.0.0.1:8080/api/spaces/s/series/r/meetings/2026-12-02/live \
//       [--url ws://second-instance/...] --cookie TOKEN --clients 1000 --typists 100 --seconds 20 --rate 5
//
// The whole generator runs on one event loop (one thread, pinned to its own core by the driver)
// and speaks WebSocket itself: frames are parsed in place from the socket's buffers and entries
// are read by scanning bytes, so the generator's own cost per received byte stays small and the
// latencies it reports are the server's, not its queueing.
import Foundation
import NIOCore
import NIOPosix

struct Options {
    struct Target { var host: String; var port: Int; var path: String }
    var targets: [Target] = []
    var cookie = ""
    var clients = 100
    var typists = 100
    var seconds = 20.0
    var rate = 5.0
    /// Longest wait after typing stops for every change to reach every client.
    var drain = 60.0
    /// Digits only, so the index after the last letter of an id can be read back.
    var run = String(UInt32.random(in: 0...UInt32.max))

    init(_ arguments: [String]) {
        var it = arguments.dropFirst().makeIterator()
        while let flag = it.next() {
            let value = it.next() ?? ""
            switch flag {
            case "--url":
                guard let url = URL(string: value), url.scheme == "ws", let host = url.host else { fatalError("--url must be ws://host:port/path") }
                targets.append(Target(host: host, port: url.port ?? 80, path: url.path))
            case "--cookie": cookie = value
            case "--clients": clients = Int(value) ?? clients
            case "--typists": typists = Int(value) ?? typists
            case "--seconds": seconds = Double(value) ?? seconds
            case "--rate": rate = Double(value) ?? rate
            case "--drain": drain = Double(value) ?? drain
            case "--run": run = value
            default: fatalError("unknown option \(flag)")
            }
        }
        precondition(!targets.isEmpty && !cookie.isEmpty, "--url and --cookie are required")
        typists = min(typists, clients)
    }
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

// MARK: Reading entries

/// Fields of one entry of a `notes` frame, read by scanning bytes rather than a full JSON parse.
/// Entries are encoded with sorted keys:
/// {"change":{"bullet":"B","kind":"text","op":[…],"rev":R},"client":"C","clientSeq":K,"seq":S}
struct Entry {
    var seq: Int
    var bullet: Int
    var client: Int
    var clientSeq: Int
    var rev: Int
    var inserted: Int
}

struct Scanner {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    /// Moves past the next occurrence of `pattern`; false when there is none.
    mutating func skip(past pattern: [UInt8]) -> Bool {
        let first = pattern[0]
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

    func hasPrefix(_ prefix: [UInt8]) -> Bool {
        bytes.count >= prefix.count && zip(bytes, prefix).allSatisfy { $0 == $1 }
    }
}

let kindKey = Array(#""kind":""#.utf8), bulletKey = Array(#""bullet":""#.utf8), opKey = Array(#""op":["#.utf8)
let revKey = Array(#""rev":"#.utf8), clientKey = Array(#""client":""#.utf8), clientSeqKey = Array(#""clientSeq":"#.utf8)
let seqKey = Array(#""seq":"#.utf8), bulletSeparator = Array("b".utf8), clientSeparator = Array("c".utf8)
let notesFrame = Array(#"{"type":"notes","changes""#.utf8), snapshotFrame = Array(#"{"type":"notesSnapshot""#.utf8)
let readyFrame = Array(#"{"type":"notesReady""#.utf8), errorFrame = Array(#"{"type":"error""#.utf8)
let resyncFrame = Array(#"{"type":"resync""#.utf8)

/// Ids look like r<run>b<index> and r<run>c<index>; the index follows the separator letter.
func scanEntries(_ bytes: UnsafeRawBufferPointer) -> [Entry] {
    var scanner = Scanner(bytes: bytes)
    var entries: [Entry] = []
    while scanner.skip(past: bulletKey) {
        _ = scanner.skip(past: bulletSeparator)
        let bullet = scanner.number()
        var inserted = 0
        var rev = -1
        // Only text changes have an op and a rev ("kind":"text"; the other kinds start with c, d, m).
        guard scanner.skip(past: kindKey) else { break }
        if scanner.index < bytes.count, bytes[scanner.index] == 116 {
            if scanner.skip(past: opKey) { inserted = scanner.countX() }
            if scanner.skip(past: revKey) { rev = scanner.number() }
        }
        guard scanner.skip(past: clientKey) else { break }
        _ = scanner.skip(past: clientSeparator)
        let client = scanner.number()
        guard scanner.skip(past: clientSeqKey) else { break }
        let clientSeq = scanner.number()
        guard scanner.skip(past: seqKey) else { break }
        let seq = scanner.number()
        entries.append(Entry(seq: seq, bullet: bullet, client: client, clientSeq: clientSeq, rev: rev, inserted: inserted))
    }
    return entries
}

// MARK: The run

/// Everything the clients share: options, keystroke times, final counts and the figures. Used
/// only on the generator's one event loop, so it needs no locks.
final class Run: @unchecked Sendable {
    let options: Options
    let loop: EventLoop
    /// Typing starts half a second after every client has its first snapshot (or, should some
    /// never get one, `joinLimit` after the run began) and lasts `seconds`; the run ends when
    /// every client has everything or `drain` seconds after typing stopped.
    private(set) var start: UInt64 = .max
    private(set) var stopAt: UInt64 = .max
    private(set) var quietUntil: UInt64 = .max
    static let joinLimit: TimeAmount = .seconds(120)
    let done: EventLoopPromise<Void>
    var clients: [Client] = []
    /// Per typist: keystroke time of each of its operations, by client sequence number.
    var typedAt: [[Int: UInt64]]
    /// Per typist: characters typed in all, known once its last operation came back.
    var finals: [Int: Int] = [:]
    var latencies: [UInt64] = []
    /// The worst latency of the deliveries that arrived in each second after typing started,
    /// to tell a steady tail from a stall.
    var worstBySecond: [Int: UInt64] = [:]
    var frames = 0, bytes = 0, resyncs = 0, reconnects = 0
    /// How long it took until every client had its first snapshot.
    private(set) var joinSeconds = -1.0
    private var joined = 0
    private let began = now()
    var errors: [String] = []
    private var open = 0

    init(options: Options, loop: EventLoop) {
        self.options = options
        self.loop = loop
        done = loop.makePromise()
        typedAt = Array(repeating: [:], count: options.typists)
    }

    func begin() {
        open = options.clients
        clients = (0..<options.clients).map { Client(index: $0, run: self) }
        for client in clients {
            // Connect gradually rather than all in the same millisecond.
            loop.scheduleTask(in: .milliseconds(Int64(client.index) * 2)) { client.connect() }
        }
        loop.scheduleTask(in: Self.joinLimit) { self.startTyping() }
    }

    /// A client got its first snapshot.
    func clientJoined() {
        joined += 1
        if joined == options.clients { startTyping() }
    }

    private func startTyping() {
        guard start == .max else { return }
        joinSeconds = joined == options.clients ? Double(now() - began) / 1e9 : -1
        start = now() + 500_000_000
        stopAt = start + UInt64(options.seconds * 1e9)
        quietUntil = stopAt + UInt64(options.drain * 1e9)
        // The driver samples the server's CPU time when typing starts and stops.
        loop.scheduleTask(deadline: .uptimeNanoseconds(start)) { FileHandle.standardError.write(Data("typing\n".utf8)) }
        loop.scheduleTask(deadline: .uptimeNanoseconds(stopAt)) { FileHandle.standardError.write(Data("stopped\n".utf8)) }
        loop.scheduleTask(deadline: .uptimeNanoseconds(quietUntil)) {
            for client in self.clients { client.finish() }
        }
        loop.scheduleTask(deadline: .uptimeNanoseconds(quietUntil + 5_000_000_000)) { self.done.succeed() }
        for client in clients { client.typingStarts() }
    }

    func typistFinished(_ typist: Int, typed: Int) {
        guard finals[typist] == nil else { return }
        finals[typist] = typed
        if finals.count == options.typists {
            for client in clients { client.allTypistsFinished() }
        }
    }

    func clientFinished() {
        open -= 1
        if open == 0 { done.succeed() }
    }
}

/// Hands a connection's bytes to its client.
final class Wire: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let client: Client
    init(client: Client) { self.client = client }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        client.received(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.disconnected()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// One simulated participant: a WebSocket connection, the notes stream in sequence order, and
/// for typists an ot.js-style sender with one operation in flight.
final class Client: @unchecked Sendable {
    let index: Int
    let run: Run
    let isTypist: Bool
    let clientID: String
    let bulletID: String
    private var channel: Channel?
    private var pending = ByteBuffer()
    private var upgraded = false
    private var fragments: ByteBuffer?
    private(set) var finished = false

    /// The last entry applied, nil before the first snapshot; entries that arrive early wait in `stash`.
    private var lastSeq: Int?
    private var stash: [Int: Entry] = [:]
    /// Characters seen per typist bullet.
    private(set) var seen: [Int: Int] = [:]
    /// Typists whose every character is not yet here, once all typists have finished.
    private var missing: Set<Int>?

    // The typist's state: what the server has acknowledged, what is in flight, what waits.
    private var rev = 0, length = 0, clientSeq = 1, typed = 0
    private var inFlight: String?
    private var waiting: [UInt64] = []
    private var created = false

    init(index: Int, run: Run) {
        self.index = index
        self.run = run
        isTypist = index < run.options.typists
        clientID = "r\(run.options.run)c\(index)"
        bulletID = "r\(run.options.run)b\(index)"
    }

    private var target: Options.Target { run.options.targets[index % run.options.targets.count] }

    // MARK: Connection

    func connect() {
        guard !finished else { return }
        let target = target
        ClientBootstrap(group: run.loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Wire(client: self)) }
            }
            .connect(host: target.host, port: target.port)
            .whenComplete { result in
                switch result {
                case let .success(channel):
                    self.channel = channel
                    self.pending = channel.allocator.buffer(capacity: 0)
                    self.upgraded = false
                    self.fragments = nil
                    var request = channel.allocator.buffer(capacity: 256)
                    request.writeString("GET \(target.path) HTTP/1.1\r\nHost: \(target.host):\(target.port)\r\nUpgrade: websocket\r\n" +
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
                        "Cookie: hg_session=\(self.run.options.cookie)\r\n\r\n")
                    channel.writeAndFlush(request, promise: nil)
                case let .failure(error):
                    self.run.errors.append("client \(self.index): connect: \(error)")
                    self.retry()
                }
            }
    }

    /// The connection dropped: catch up on a new one, as a browser does, unless the run is over.
    func disconnected() {
        channel = nil
        retry()
    }

    private func retry() {
        guard !finished else { return }
        guard now() < run.quietUntil else { return finish() }
        run.reconnects += 1
        run.loop.scheduleTask(in: .milliseconds(200)) { self.connect() }
    }

    func finish() {
        guard !finished else { return }
        finished = true
        if let channel {
            send(opcode: 0x8, Array([0x03, 0xE8])) // 1000: normal closure
            channel.close(promise: nil)
        }
        run.clientFinished()
    }

    // MARK: WebSocket framing

    func received(_ buffer: ByteBuffer) {
        var buffer = buffer
        if pending.readableBytes == 0 { pending = buffer } else { pending.writeBuffer(&buffer) }
        if !upgraded {
            guard let end = pending.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
            let head = pending.readString(length: end.upperBound - pending.readerIndex) ?? ""
            guard head.hasPrefix("HTTP/1.1 101") else {
                run.errors.append("client \(index): upgrade refused: \(head.prefix(80))")
                return finish()
            }
            upgraded = true
            hello()
        }
        while pending.readableBytes >= 2 {
            let at = pending.readerIndex
            let b0 = pending.getInteger(at: at, as: UInt8.self)!, b1 = pending.getInteger(at: at + 1, as: UInt8.self)!
            var length = Int(b1 & 0x7F), header = 2
            if length == 126 {
                guard pending.readableBytes >= 4 else { return }
                length = Int(pending.getInteger(at: at + 2, as: UInt16.self)!)
                header = 4
            } else if length == 127 {
                guard pending.readableBytes >= 10 else { return }
                length = Int(pending.getInteger(at: at + 2, as: UInt64.self)!)
                header = 10
            }
            guard pending.readableBytes >= header + length else { return }
            let payload = pending.getSlice(at: at + header, length: length)!
            pending.moveReaderIndex(forwardBy: header + length)
            frame(opcode: b0 & 0x0F, fin: b0 & 0x80 != 0, payload)
            if finished { return }
        }
    }

    private func frame(opcode: UInt8, fin: Bool, _ payload: ByteBuffer) {
        switch opcode {
        case 0x1, 0x0:
            var payload = payload
            if opcode == 0x0 || !fin {
                if fragments == nil { fragments = payload } else { fragments!.writeBuffer(&payload) }
                guard fin else { return }
                payload = fragments!
                fragments = nil
            }
            payload.withUnsafeReadableBytes { message($0) }
        case 0x9:
            send(opcode: 0xA, Array(payload.readableBytesView))
        case 0x8:
            channel?.close(promise: nil)
        default:
            break
        }
    }

    /// Writes one masked frame (clients must mask, RFC 6455 §5.3).
    private func send(opcode: UInt8, _ payload: [UInt8]) {
        guard let channel else { return }
        var frame = channel.allocator.buffer(capacity: payload.count + 14)
        frame.writeInteger(0x80 | opcode)
        if payload.count < 126 {
            frame.writeInteger(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(payload.count))
        } else {
            frame.writeInteger(UInt8(0x80 | 127))
            frame.writeInteger(UInt64(payload.count))
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame.writeBytes(mask)
        frame.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset & 3] })
        channel.writeAndFlush(frame, promise: nil)
    }

    private func send(_ text: String) { send(opcode: 0x1, Array(text.utf8)) }

    // MARK: The notes protocol

    /// Starts (or, after a drop or a resync, resumes) the notes stream, then sends again what
    /// was in flight: the server skips a change it already applied and sends its entry instead.
    private func hello() {
        send(#"{"type":"hello","client":"\#(clientID)","since":\#(lastSeq.map(String.init) ?? "null")}"#)
        if let inFlight { send(inFlight) }
    }

    private func message(_ bytes: UnsafeRawBufferPointer) {
        let scanner = Scanner(bytes: bytes)
        if scanner.hasPrefix(notesFrame) {
            run.frames += 1
            run.bytes += bytes.count
            entries(scanEntries(bytes), arrived: now())
        } else if scanner.hasPrefix(snapshotFrame) {
            snapshot(Data(bytes))
        } else if scanner.hasPrefix(resyncFrame) {
            run.resyncs += 1
            hello()
        } else if scanner.hasPrefix(errorFrame) {
            run.errors.append("client \(index): " + String(decoding: bytes.prefix(200), as: UTF8.self))
        } else if scanner.hasPrefix(readyFrame) {
            // A catch-up is complete; its entries were applied as they came.
        }
    }

    private func snapshot(_ data: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let seq = object["seq"] as? Int else {
            run.errors.append("client \(index): unreadable snapshot")
            return
        }
        if lastSeq == nil { run.clientJoined() }
        lastSeq = seq
        stash = stash.filter { $0.key > seq }
        for bullet in object["bullets"] as? [[String: Any]] ?? [] {
            guard let id = bullet["id"] as? String, let text = bullet["text"] as? String, let b = id.lastIndex(of: "b"),
                  let typist = Int(id[id.index(after: b)...]) else { continue }
            seen[typist] = text.utf8.count
        }
        if isTypist && !createSent {
            createSent = true
            inFlight = #"{"type":"notes","id":"c","client":"\#(clientID)","changes":[{"clientSeq":1,"kind":"create","bullet":"\#(bulletID)","parent":"meeting","order":"V\#(index)V","text":""}]}"#
            send(inFlight!)
        }
        drainStash(arrived: now())
    }

    private func entries(_ entries: [Entry], arrived: UInt64) {
        for entry in entries where entry.seq > (lastSeq ?? 0) { stash[entry.seq] = entry }
        drainStash(arrived: arrived)
    }

    /// Applies stashed entries while the next one in sequence is there.
    private func drainStash(arrived: UInt64) {
        guard var last = lastSeq else { return }
        var acked = false
        while let entry = stash.removeValue(forKey: last + 1) {
            last = entry.seq
            if entry.client == index {
                acked = acknowledge(entry) || acked
                continue
            }
            if entry.client < run.typedAt.count, let typed = run.typedAt[entry.client][entry.clientSeq] {
                run.latencies.append(arrived - typed)
                if arrived > run.start {
                    let second = Int((arrived - run.start) / 1_000_000_000)
                    run.worstBySecond[second] = max(run.worstBySecond[second] ?? 0, arrived - typed)
                }
            }
            seen[entry.bullet, default: 0] += entry.inserted
            if var missing, missing.contains(entry.bullet), seen[entry.bullet] == run.finals[entry.bullet] {
                missing.remove(entry.bullet)
                self.missing = missing
            }
        }
        lastSeq = last
        if acked { sendWaiting() }
        if let missing, missing.isEmpty, arrived > run.stopAt { finish() }
    }

    /// Own entries acknowledge the operation in flight.
    private func acknowledge(_ entry: Entry) -> Bool {
        guard entry.clientSeq == clientSeq, inFlight != nil else { return false }
        if entry.clientSeq == 1 {
            created = true
        } else {
            rev = entry.rev + 1
            length += entry.inserted
        }
        inFlight = nil
        return true
    }

    func allTypistsFinished() {
        missing = Set((0..<run.options.typists).filter { $0 != index && seen[$0, default: 0] != run.finals[$0] })
        if missing!.isEmpty, lastSeq != nil { finish() }
    }

    // MARK: Typing

    private var createSent = false, typingStopped = false
    private var nextKeystroke: UInt64 = 0

    /// One keystroke every 1/rate seconds from `start` (typists spread over the first interval).
    func typingStarts() {
        guard isTypist else { return }
        let interval = UInt64(1e9 / run.options.rate)
        nextKeystroke = run.start + UInt64(Double(interval) * Double(index) / Double(max(1, run.options.typists)))
        run.loop.scheduleTask(deadline: .uptimeNanoseconds(nextKeystroke)) { self.keystroke(interval: interval) }
    }

    private func keystroke(interval: UInt64) {
        guard now() < run.stopAt, !finished else { return finishedTyping() }
        waiting.append(now())
        typed += 1
        sendWaiting()
        nextKeystroke += interval
        run.loop.scheduleTask(deadline: .uptimeNanoseconds(nextKeystroke)) { self.keystroke(interval: interval) }
    }

    private func finishedTyping() {
        typingStopped = true
        if inFlight == nil && waiting.isEmpty { run.typistFinished(index, typed: typed) }
    }

    /// What was typed while nothing was in flight goes out as one operation.
    private func sendWaiting() {
        guard created, inFlight == nil else { return }
        guard !waiting.isEmpty else {
            if typingStopped { run.typistFinished(index, typed: typed) }
            return
        }
        clientSeq += 1
        run.typedAt[index][clientSeq] = waiting.min()!
        let text = String(repeating: "x", count: waiting.count)
        waiting = []
        let op = length > 0 ? "[\(length),\"\(text)\"]" : "[\"\(text)\"]"
        inFlight = #"{"type":"notes","id":"t","client":"\#(clientID)","changes":[{"clientSeq":\#(clientSeq),"kind":"text","bullet":"\#(bulletID)","rev":\#(rev),"op":\#(op)}]}"#
        send(inFlight!)
    }
}

@main
struct NotesLoad {
    nonisolated static func main() async throws {
        let options = Options(CommandLine.arguments)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let run = Run(options: options, loop: loop)
        try await loop.submit { run.begin() }.get()
        try await run.done.futureResult.get()
        let report = try await loop.submit { () -> Data in
            let sorted = run.latencies.sorted()
            func percentile(_ p: Double) -> Double {
                sorted.isEmpty ? -1 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6
            }
            // Convergence: every client saw every character every other typist typed.
            var diverged = 0, incompleteClients = 0
            /// Incomplete pairs by (client's instance, typist's instance), to tell cross-instance gaps apart.
            var byInstance: [String: Int] = [:]
            let instances = options.targets.count
            for client in run.clients {
                let gaps = (0..<options.typists).filter { $0 != client.index && client.seen[$0, default: 0] != run.finals[$0, default: -1] }
                diverged += gaps.count
                if !gaps.isEmpty { incompleteClients += 1 }
                for typist in gaps { byInstance["\(client.index % instances)<-\(typist % instances)", default: 0] += 1 }
            }
            let object: [String: Any] = [
                "clients": options.clients, "typists": options.typists, "rate": options.rate, "seconds": options.seconds,
                "instances": instances, "editsTyped": run.finals.values.reduce(0, +), "typistsFinished": run.finals.count,
                "deliveries": sorted.count,
                "latencyMs": ["p50": percentile(0.5), "p95": percentile(0.95), "p99": percentile(0.99), "max": percentile(1.0)],
                "framesPerSecond": Double(run.frames) / options.seconds, "bytesPerSecond": Double(run.bytes) / options.seconds,
                "divergentClientBulletPairs": diverged, "incompleteByInstance": byInstance, "incompleteClients": incompleteClients,
                "worstSeconds": run.worstBySecond.sorted { $0.value > $1.value }.prefix(3)
                    .map { ["second": $0.key, "worstMs": Double($0.value / 1000) / 1000] },
                "joinSeconds": run.joinSeconds,
                "resyncs": run.resyncs, "reconnects": run.reconnects, "errors": Array(run.errors.prefix(5)), "errorCount": run.errors.count,
            ]
            return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        }.get()
        print(String(decoding: report, as: UTF8.self))
        try await group.shutdownGracefully()
        let failed = try JSONSerialization.jsonObject(with: report) as? [String: Any]
        if (failed?["divergentClientBulletPairs"] as? Int ?? 1) > 0 || (failed?["errorCount"] as? Int ?? 1) > 0 { exit(1) }
    }
}
