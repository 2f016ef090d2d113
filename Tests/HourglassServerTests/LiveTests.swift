import Foundation
import HTTPTypes
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import Testing
@testable import HourglassServer

/// Reads frames as JSON objects until one satisfies `condition`.
func receive(_ messages: inout WebSocketInboundMessageStream.AsyncIterator, until condition: ([String: Any]) -> Bool) async throws -> [String: Any] {
    while let message = try await messages.next() {
        guard case let .text(text) = message,
              let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { continue }
        if condition(object) { return object }
    }
    throw CancellationError()
}

func boardTopics(_ frame: [String: Any]) -> [[String: Any]] {
    (frame["board"] as? [String: Any])?["topics"] as? [[String: Any]] ?? []
}

func boardClock(_ frame: [String: Any]) -> [String: Any]? {
    (frame["board"] as? [String: Any])?["clock"] as? [String: Any]
}

func command(_ id: String, _ fields: [String: String]) -> String {
    let data = try! JSONSerialization.data(withJSONObject: ["type": "command", "id": id, "command": fields])
    return String(decoding: data, as: UTF8.self)
}

@Suite struct LiveTests {
    @Test func twoClientsSeeEachOthersVotesAndTheSameClock() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let ann = try await client.signUp("Ann")
            let meeting = try await client.makeMeeting(owner: fay, visibility: "public")
            let topic = try await client.command(meeting, ["type": "propose", "tag": "quest", "title": "Event bus"], token: fay).topics[0]["id"] as? String ?? ""
            let deadlines = try await withThrowingTaskGroup(of: Int.self) { group in
                // Ann votes, then waits for the clock Fay starts.
                group.addTask {
                    let deadline = LockedBox<Int>(0)
                    try await client.withSocket(meeting, token: ann) { inbound, outbound in
                        var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                        let first = try await receive(&messages) { $0["type"] as? String == "board" }
                        #expect((first["me"] as? [String: Any])?["name"] as? String == "Ann")
                        try await outbound.write(.text(command("a1", ["type": "vote", "topicId": topic])))
                        let ack = try await receive(&messages) { $0["type"] as? String == "ack" || $0["type"] as? String == "error" }
                        #expect(ack["type"] as? String == "ack" && ack["id"] as? String == "a1", "\(ack)")
                        let started = try await receive(&messages) { boardClock($0) != nil }
                        deadline.value = boardClock(started)?["deadline"] as? Int ?? -1
                    }
                    return deadline.value
                }
                // Fay sees Ann's vote live, then starts the topic.
                group.addTask {
                    let deadline = LockedBox<Int>(0)
                    try await client.withSocket(meeting, token: fay) { inbound, outbound in
                        var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                        let voted = try await receive(&messages) { boardTopics($0).first?["votes"] as? Int == 1 }
                        let present = ((voted["board"] as? [String: Any])?["present"] as? [[String: String]])?.map { $0["name"] ?? "" }
                        #expect(present?.contains("Fay Facilitator") == true)
                        try await outbound.write(.text(command("f1", ["type": "startTopic", "topicId": ""])))
                        let started = try await receive(&messages) { boardClock($0) != nil }
                        deadline.value = boardClock(started)?["deadline"] as? Int ?? -2
                    }
                    return deadline.value
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(deadlines.count == 2)
            #expect(deadlines[0] == deadlines[1])
            #expect(deadlines[0] == Int((app.clock.now.timeIntervalSince1970 + 600) * 1000))
        }
    }

    @Test func garbageGetsAnErrorFrameAndTheSocketCarriesOn() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let meeting = try await client.makeMeeting(owner: fay)
            try await client.withSocket(meeting, token: fay) { inbound, outbound in
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                _ = try await receive(&messages) { $0["type"] as? String == "board" }
                let garbage: [(String, String)] = [
                    ("not json", "malformed"),
                    ("[]", "malformed"),
                    (#"{"type":"command","id":"x"}"#, "malformed"),
                    (#"{"type":"command","id":"y","command":{"type":"vote","topicId":"nope"}}"#, "invalid"),
                    (#"{"type":"command","id":"z","command":{"type":"vote","topicId":"\#(UUID().uuidString)"}}"#, "notFound"),
                    (#"{"type":"command","id":"w","command":{"type":"revote","thumb":"up"}}"#, "conflict"),
                    (#"{"type":"command","id":"v","command":{"type":"vote","topicId":7}}"#, "malformed"),
                    (#"{"type":"subscribe"}"#, "malformed"),
                ]
                for (frame, code) in garbage {
                    try await outbound.write(.text(frame))
                    let reply = try await receive(&messages) { $0["type"] as? String == "error" }
                    #expect(reply["code"] as? String == code, "\(frame) → \(reply)")
                }
                try await outbound.write(.binary(ByteBuffer(bytes: [0xFF, 0xFE, 0x7B])))
                let binary = try await receive(&messages) { $0["type"] as? String == "error" }
                #expect((binary["message"] as? String)?.contains("UTF-8") == true)
                try await outbound.write(.text(#"{"type":"ping"}"#))
                _ = try await receive(&messages) { $0["type"] as? String == "pong" }
                try await outbound.write(.text(command("ok", ["type": "propose", "tag": "quest", "title": "Still works"])))
                let ack = try await receive(&messages) { $0["type"] as? String == "ack" }
                #expect(ack["id"] as? String == "ok")
            }
        }
    }

    @Test func outsidersCannotOpenAPrivateMeetingSocket() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let eve = try await client.signUp("Eve")
            let meeting = try await client.makeMeeting(owner: fay)
            await #expect(throws: (any Error).self) {
                try await client.withSocket(meeting, token: eve) { _, _ in
                    Issue.record("an outsider got a socket")
                }
            }
        }
    }
}

/// A value written inside a WebSocket handler and read after it returns.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
