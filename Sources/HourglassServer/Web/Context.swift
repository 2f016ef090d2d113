import Foundation
import HourglassCore
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// Per-request state: who is calling and, on routes inside a space, what they may do there.
public struct AppRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<AppRequestContext>
    /// The signed-in person, set by `SessionMiddleware`.
    public var user: User?
    /// Hash of the session token that authenticated this request.
    public var sessionTokenHash: String?
    /// Set by `SpaceAccessMiddleware` on every route under a space; absent means "not in a space".
    public var access: SpaceAccess?
    /// The connection the request came on: live sockets write their pushed frames to it directly.
    public let channel: any NIOCore.Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }

    public var requestDecoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    public var responseEncoder: JSONEncoder { JSON.encoder }

    /// Bodies larger than this are refused with 413 before they are read.
    public var maxUploadSize: Int { 1 << 20 }

    /// The space access resolved for this route; only routes under a space may call it.
    func requireAccess() throws -> SpaceAccess {
        guard let access else { throw AppError.notFound() }
        return access
    }

    func requireUser() throws -> User {
        guard let user else { throw AppError(.unauthorized, "Sign in first") }
        return user
    }
}

/// The JSON conventions of every response: ISO 8601 dates, sorted keys.
enum JSON {
    /// A new encoder per use: encoders are classes and requests run concurrently.
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func string<T: Encodable>(_ value: T) -> String {
        (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// A JSON response with a status (for types that are not `ResponseEncodable` themselves).
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: string(value))))
    }
}
