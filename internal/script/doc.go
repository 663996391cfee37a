// Package script is a migration script as the SQL core sees it: its name,
// type, SQL and checksum, with nothing of Kubernetes. The source package
// loads scripts from the API into this shape; the planner and the engines
// take them from here, so they never import the API.
package script
