// RouteGrpcLogs: gRPC's own log lines (a failed TLS handshake, a port that
// could not be bound) go through ampmr's log, rate-limited: at most one line
// a minute from each place in gRPC that logs, with a count of those left out,
// so a peer that retries a failing handshake cannot fill the log. Only
// gRPC's errors are kept.
//
// Call once from main, before any gRPC object exists.
#ifndef AMPMR_COMMON_GRPC_LOG_H_
#define AMPMR_COMMON_GRPC_LOG_H_

namespace ampmr {

// `quiet`: drop gRPC's lines altogether unless the log level is debug (the
// ampmr command line, which reports every failure as one line of its own).
void RouteGrpcLogs(bool quiet);

}  // namespace ampmr

#endif  // AMPMR_COMMON_GRPC_LOG_H_
