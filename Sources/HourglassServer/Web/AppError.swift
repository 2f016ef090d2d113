import Foundation
import HourglassCore
import HourglassStore
import Hummingbird
import NIOCore

/// An error a person sees: a status and a message safe to show. API routes render it as
/// problem JSON (RFC 9457), pages as an HTML error page.
public struct AppError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var message: String
    public var field: String?

    public init(_ status: HTTPResponse.Status, _ message: String, field: String? = nil) {
        self.status = status
        self.message = message
        self.field = field
    }

    /// What outsiders of a private space get for anything in it, and what missing things look like.
    public static func notFound(_ message: String = "Not found") -> AppError { AppError(.notFound, message) }

    /// Maps every error a handler may throw to what the person is shown; unknown errors say
    /// nothing about internals.
    public static func from(_ error: any Error) -> AppError? {
        switch error {
        case let error as AppError: return error
        case let error as BoardError:
            let status: HTTPResponse.Status = switch error.kind {
            case .invalid: .unprocessableContent
            case .notFound: .notFound
            case .forbidden: .forbidden
            case .conflict: .conflict
            }
            return AppError(status, error.message)
        case let error as ValidationError:
            return AppError(.unprocessableContent, "The \(error.field) \(error.message)", field: error.field)
        case let error as StoreError:
            switch error {
            case .duplicate: return AppError(.conflict, error.description)
            case .notFound: return AppError(.notFound, error.description)
            case .setupClosed: return AppError(.gone, error.description)
            }
        case let error as HTTPError:
            let message = switch error.status {
            case .notFound: "Not found"
            case .contentTooLarge: "The request body is too large (at most 1 MB)"
            case .methodNotAllowed: "Method not allowed"
            default: error.body ?? error.status.reasonPhrase
            }
            return AppError(error.status, message)
        case is NIOTooManyBytesError:
            return AppError(.contentTooLarge, "The request body is too large (at most 1 MB)")
        case let error as DecodingError:
            return AppError(.badRequest, "Malformed JSON: \(describe(error))")
        default:
            return nil
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return keys.isEmpty ? "" : " at \"\(keys.joined(separator: "."))\""
        }
        switch error {
        case let .keyNotFound(key, context): return "missing field \"\(key.stringValue)\"\(path(context))"
        case let .typeMismatch(type, context): return "expected \(type)\(path(context))"
        case let .valueNotFound(type, context): return "expected \(type)\(path(context))"
        case let .dataCorrupted(context):
            return context.codingPath.isEmpty ? "the body is not valid JSON (UTF-8)" : "\(context.debugDescription)\(path(context))"
        @unknown default: return "unreadable body"
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        if request.uri.path.hasPrefix("/api/") || request.headers[.accept]?.contains("application/json") == true {
            let problem = Problem(type: "about:blank", title: status.reasonPhrase, status: status.code, detail: message, field: field)
            var headers = HTTPFields()
            headers[.contentType] = "application/problem+json"
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: JSON.string(problem))))
        }
        var response = try Page.error(status: status, message: message).response(from: request, context: context)
        response.status = status
        return response
    }
}

/// RFC 9457 problem details.
struct Problem: Codable {
    var type: String
    var title: String
    var status: Int
    var detail: String
    var field: String?
}

/// Turns every thrown error into an `AppError` response; logs the ones people must not see.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            if let appError = AppError.from(error) { throw appError }
            context.logger.error("Unhandled error", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            throw AppError(.internalServerError, "Something went wrong on our side; the error has been logged")
        }
    }
}
