import Foundation
import HourglassCore
import HTTPTypes
import Hummingbird

/// HTML whose interpolated strings are escaped unless they are `HTML` themselves, so user text
/// can only ever become text.
public struct HTML: ExpressibleByStringInterpolation, Sendable, ResponseGenerator {
    public var rendered: String

    public init(raw: String) { rendered = raw }
    public init(stringLiteral value: String) { rendered = value }
    public init(stringInterpolation: Interpolation) { rendered = stringInterpolation.output }

    public struct Interpolation: StringInterpolationProtocol {
        var output = ""
        public init(literalCapacity: Int, interpolationCount: Int) { output.reserveCapacity(literalCapacity * 2) }
        public mutating func appendLiteral(_ literal: String) { output += literal }
        public mutating func appendInterpolation(_ html: HTML) { output += html.rendered }
        public mutating func appendInterpolation(_ list: [HTML]) { for item in list { output += item.rendered } }
        public mutating func appendInterpolation(_ text: String) { output += HTML.escape(text) }
        public mutating func appendInterpolation(_ value: Int) { output += String(value) }
        public mutating func appendInterpolation(_ value: UUID) { output += value.uuidString.lowercased() }
        public mutating func appendInterpolation<T: CustomStringConvertible>(_ value: T) { output += HTML.escape(value.description) }
    }

    /// Escapes text for HTML (the same rules as every export: `ArchiveExport.xml`).
    public static func escape(_ text: String) -> String { ArchiveExport.xml(text) }

    /// Includes `html` only when `condition` holds.
    public static func when(_ condition: Bool, _ html: @autoclosure () -> HTML) -> HTML { condition ? html() : "" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: rendered)))
    }
}

/// Security headers on every response: a Content-Security-Policy without inline script, and friends.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var policy: String {
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.contentSecurityPolicy] = Self.policy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return response
    }
}

/// Refuses state-changing requests and WebSocket upgrades whose `Origin` names another host
/// (cookies are also SameSite=Lax). Hosts are compared without ports, as cookies are.
struct SameOriginMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let changesState = request.method != .get && request.method != .head
        let opensSocket = request.headers[.upgrade]?.lowercased() == "websocket"
        if changesState || opensSocket, let origin = request.headers[.origin] {
            let host = URLComponents(string: "http://\(request.head.authority ?? "")")?.host?.lowercased()
            guard let originHost = URLComponents(string: origin)?.host?.lowercased(), originHost == host else {
                throw AppError(.forbidden, "Cross-site requests are not accepted")
            }
        }
        return try await next(request, context)
    }
}
