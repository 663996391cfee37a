// Package lint checks DatabaseMigration manifests offline, as a pull request
// holds them: it reads multi-document YAML with the line of every node,
// serves the ConfigMaps, Secrets and targets of the same input to the
// admission webhook's own Defaulter and Validator, and reports what they
// refuse or warn about at the file and line a reviewer reads, as text,
// JSON, GitHub workflow commands or SARIF. With Planning it also plans each
// migration the webhook admits, as the operator would (on a dev database,
// from an empty schema or against a live one), and reports the planner's
// lint at the line of each statement.
package lint
