// Package webhookserver serves the admission webhooks over TLS to the API
// server: controller-runtime's webhook server (its mux, handler metrics and
// certificate reloading) started with HTTP/2 settings of ours, which
// controller-runtime's own Start does not let a caller set.
package webhookserver
