package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
)

// offlineFlags are what plan and apply share: where the database is and
// what to migrate it with.
type offlineFlags struct {
	url, devURL string
	files       []string
	dir         string
	desired     string
}

func (f *offlineFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "Database URL: sqlite://PATH, postgres://user:pass@host:port/db?sslmode=disable, mysql://user:pass@host:port/db")
	fl.StringVar(&f.devURL, "dev-url", "", "Empty dev database to replay SQL on, on another server than --url (emptied before and after). Without it: a scratch database on the dev server in KUBE_SHIFT_DEV_DATABASE_POSTGRES or KUBE_SHIFT_DEV_DATABASE_MYSQL; in memory for SQLite. The target's own server is never used to replay scripts")
	fl.StringArrayVar(&f.files, "file", nil, "Migration script; repeat for several, applied in the order given")
	fl.StringVar(&f.dir, "dir", "", "Directory of *.sql migration scripts, applied in name order")
	fl.StringVar(&f.desired, "desired", "", "Desired schema (SQL, or Atlas HCL when the file ends in .hcl): plan the diff to it")
	_ = cmd.MarkFlagRequired("url")
	cmd.MarkFlagsMutuallyExclusive("file", "dir", "desired")
	cmd.MarkFlagsOneRequired("file", "dir", "desired")
}

// load returns the target, the planner and the input the flags describe.
func (f *offlineFlags) load() (*database.Target, *planner.Planner, planner.Input, error) {
	target, err := database.ParseURL(f.url)
	if err != nil {
		return nil, nil, planner.Input{}, fmt.Errorf("--url: %w", err)
	}
	in, err := f.input()
	if err != nil {
		return nil, nil, planner.Input{}, err
	}
	servers := map[string]string{}
	for engine, env := range map[string]string{"postgres": "KUBE_SHIFT_DEV_DATABASE_POSTGRES", "mysql": "KUBE_SHIFT_DEV_DATABASE_MYSQL"} {
		if v := os.Getenv(env); v != "" {
			servers[engine] = v
		}
	}
	return target, &planner.Planner{DevURL: f.devURL, DevServers: servers}, in, nil
}

func (f *offlineFlags) input() (planner.Input, error) {
	if f.desired != "" {
		text, err := os.ReadFile(f.desired)
		if err != nil {
			return planner.Input{}, err
		}
		format := planner.SchemaFormatSQL
		if strings.EqualFold(filepath.Ext(f.desired), ".hcl") {
			format = planner.SchemaFormatHCL
		}
		return planner.Input{Desired: &planner.Desired{Format: format, Text: string(text)}}, nil
	}
	files := f.files
	if f.dir != "" {
		matches, err := filepath.Glob(filepath.Join(f.dir, "*.sql"))
		if err != nil {
			return planner.Input{}, err
		}
		if len(matches) == 0 {
			return planner.Input{}, fmt.Errorf("--dir %s holds no *.sql file", f.dir)
		}
		sort.Strings(matches)
		files = matches
	}
	var scripts []script.Script
	seen := map[string]bool{}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			return planner.Input{}, err
		}
		name := filepath.Base(path)
		if seen[name] {
			return planner.Input{}, errors.New("two scripts are named " + name + ": script names must be unique")
		}
		seen[name] = true
		scripts = append(scripts, script.Script{
			Name:     name,
			Type:     script.TypeSchema,
			SQL:      string(data),
			Checksum: script.Checksum(data),
		})
	}
	return planner.Input{Scripts: scripts}, nil
}
