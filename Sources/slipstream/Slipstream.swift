import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SlipstreamAPI
import SlipstreamDataPlane
import SlipstreamModel

@main
struct Slipstream: AsyncParsableCommand {
    static func main() async {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "slipstream",
        abstract: "A self-hosted Global Accelerator serving the Huawei Cloud GA v1 API.",
        subcommands: [Serve.self, Admin.self]
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the API server and its embedded PoP (the data plane; SLIPSTREAM_DATA_PLANE=off runs the API alone)."
    )

    @Option(help: "Address to listen on (SLIPSTREAM_HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (SLIPSTREAM_PORT, default 8080).") var port: Int?
    @Option(help: "Directory for the database and keys (SLIPSTREAM_DATA_DIR, default ./.slipstream).") var dataDir: String?
    @Option(
        help:
            "A PostgreSQL database shared by API replicas, postgres://user[:password]@host[:port]/database (SLIPSTREAM_DATABASE_URL; needs SLIPSTREAM_MASTER_KEY)."
    )
    var databaseURL: String?
    @Flag(help: "Run the API alone, without the embedded PoP (SLIPSTREAM_DATA_PLANE=off).") var noDataPlane = false

    func run() async throws {
        var configuration = try SlipstreamConfiguration(environment: ProcessInfo.processInfo.environment)
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let dataDir { configuration.dataDirectory = dataDir }
        if let databaseURL { configuration.databaseURL = databaseURL }
        if self.noDataPlane { configuration.dataPlaneEnabled = false }
        let logger = makeLogger(configuration.logLevel)
        if let limits = DescriptorLimit.raiseSoftLimitToHard() {
            logger.info(
                "open-file limit",
                metadata: ["soft_at_start": "\(limits.before)", "soft": "\(limits.after)", "hard": "\(limits.hard)"]
            )
        }
        let app = try await buildApplication(configuration: configuration, logger: logger) { first in
            let path = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent(DataDirectory.credentialsFile).path
            print("Created the first account; its credentials are saved in \(path):")
            print(String(decoding: try JSONEncoder.credentials.encode(first), as: UTF8.self))
            fflush(nil)
        }
        try await app.runService()
    }
}

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Administer a data directory.", subcommands: [CreateAccount.self])

    struct CreateAccount: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-account",
            abstract: "Create an account and print its credentials as one JSON object."
        )

        @Option(help: "The data directory (SLIPSTREAM_DATA_DIR, default ./.slipstream).") var dataDir: String?
        @Option(help: "Account (domain) and user name: letters, digits and '-', 1-64 characters.") var name: String
        @Option(help: "The PostgreSQL database of the replicas (SLIPSTREAM_DATABASE_URL; needs SLIPSTREAM_MASTER_KEY).")
        var databaseURL: String?

        func run() async throws {
            var configuration = try SlipstreamConfiguration(environment: ProcessInfo.processInfo.environment)
            if let dataDir { configuration.dataDirectory = dataDir }
            if let databaseURL { configuration.databaseURL = databaseURL }
            var logger = Logger(label: "slipstream")
            logger.logLevel = .warning
            let directory = try await DataDirectory.open(configuration: configuration, logger: logger, bootstrap: false)
            do {
                let credentials = try await directory.accounts.createAccount(name: self.name)
                try await directory.store.close()
                print(String(decoding: try JSONEncoder.credentials.encode(credentials), as: UTF8.self))
            } catch let error as GAError {
                try? await directory.store.close()
                throw ValidationError(error.message)
            }
        }
    }
}

func makeLogger(_ level: String) -> Logger {
    var logger = Logger(label: "slipstream")
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}

extension JSONEncoder {
    static var credentials: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
