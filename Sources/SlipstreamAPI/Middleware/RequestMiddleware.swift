import Foundation
import Hummingbird
import Logging
import NIOCore
import SlipstreamModel

/// The outermost middleware: gives every request an id, bounds its body, turns every failure into a GA-format
/// error, stamps `X-Request-Id` on every response and writes one log line per request.
struct RequestMiddleware: RouterMiddleware {
    typealias Context = SlipstreamRequestContext

    let maxBodyBytes: Int
    let metrics: HTTPMetrics
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var context = context
        context.requestID = UUID().uuidString.lowercased()
        var request = request
        var response: Response
        do {
            // The PoP protocol bounds its own bodies, after the PoP's token is checked: a PoP's report grows with the
            // endpoints it serves, not with one tenant's request.
            if !PoPProtocolController.isProtocolPath(request.uri.path) {
                do {
                    _ = try await request.collectBody(upTo: self.maxBodyBytes)
                } catch is NIOTooManyBytesError {
                    throw GAError.bodyTooLarge(limit: self.maxBodyBytes)
                }
            }
            if let repeated = APIRoutes.repeatedQueryParameter(request.uri.queryParameters) {
                throw GAError.invalid(repeated, "may appear only once in the query")
            }
            response = try await next(request, context)
        } catch {
            response = try self.errorResponse(error, request: request, context: context)
        }
        response.headers[.requestID] = context.requestID
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        self.metrics.record(method: request.method.rawValue, status: Int(response.status.code), elapsed: elapsed)
        self.logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)",
                "path": "\(request.uri.path)",
                "status": "\(response.status.code)",
                "duration_ms": "\(String(format: "%.2f", milliseconds))",
                "request_id": "\(context.requestID)",
            ]
        )
        return response
    }

    private func errorResponse(_ error: any Error, request: Request, context: Context) throws -> Response {
        let gaError: GAError
        switch error {
        case let error as GAError:
            gaError = error
        case let error as HTTPError where error.status == .notFound:
            let allowed = APIRoutes.allowedMethods(path: request.uri.path)
            if !allowed.isEmpty && !allowed.contains(request.method.rawValue) {
                var response = try GAError.methodNotAllowed(request.method.rawValue).response(requestID: context.requestID)
                response.headers[.allow] = allowed.joined(separator: ", ")
                return response
            }
            gaError = .noSuchAPI
        case let error as HTTPError where error.status == .contentTooLarge:
            gaError = .bodyTooLarge(limit: self.maxBodyBytes)
        case let error as HTTPError where (400..<500).contains(error.status.code):
            gaError = GAError(status: error.status.code, code: "GA.9001", message: "Invalid request: \(error.body ?? error.status.reasonPhrase)")
        default:
            self.logger.error("unhandled error", metadata: ["request_id": "\(context.requestID)", "error": "\(String(reflecting: error))"])
            gaError = .internalError
        }
        return try gaError.response(requestID: context.requestID)
    }
}
