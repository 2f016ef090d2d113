import Foundation

extension BoardCommand {
    /// Reads a command from flat string fields, the one wire shape shared by HTML forms
    /// (`type=vote&topicId=…`), JSON bodies and WebSocket frames.
    public init(fields: [String: String]) throws {
        func field(_ name: String) throws -> String {
            guard let value = fields[name] else { throw BoardError(.invalid, "Missing field \"\(name)\" for \(fields["type"] ?? "command")") }
            return value
        }
        func topicID(_ name: String = "topicId") throws -> UUID {
            let raw = try field(name)
            guard let id = UUID(uuidString: raw) else { throw BoardError(.invalid, "\"\(name)\" is not a topic id") }
            return id
        }
        guard let type = fields["type"] else { throw BoardError(.invalid, "Missing field \"type\" (e.g. \"vote\")") }
        switch type {
        case "propose":
            self = .propose(tag: try field("tag"), title: try field("title"), description: fields["description"] ?? "")
        case "withdraw": self = .withdraw(topicID: try topicID())
        case "vote": self = .vote(topicID: try topicID())
        case "unvote": self = .unvote(topicID: try topicID())
        case "startMeeting": self = .startMeeting
        case "startTopic":
            let raw = fields["topicId"] ?? ""
            self = .startTopic(topicID: raw.isEmpty ? nil : try topicID())
        case "endTopic": self = .endTopic
        case "extend": self = .extend
        case "revote":
            let raw = try field("thumb")
            guard let thumb = Thumb(rawValue: raw) else { throw BoardError(.invalid, "\"thumb\" must be up, sideways or down") }
            self = .revote(thumb)
        case "closeRevote": self = .closeRevote
        case "endMeeting": self = .endMeeting
        case "skip": self = .skip(reason: try field("reason"))
        default:
            throw BoardError(.invalid, "Unknown command type \"\(type.prefix(40))\"; expected one of \(BoardCommand.clientTypes.joined(separator: ", "))")
        }
    }

    /// Command types a client may send (`advance` is the server's own).
    public static let clientTypes = ["propose", "withdraw", "vote", "unvote", "startMeeting", "startTopic", "endTopic",
                                     "extend", "revote", "closeRevote", "endMeeting", "skip"]
}
