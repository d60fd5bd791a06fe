package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v0.x.y";
// without it, rdg reports the module version Go recorded (a `go install
// module@version` build), or "devel".
var version string

// buildInfo is what `rdg version` reports.
type buildInfo struct {
	Version   string
	Commit    string // VCS revision, "" if Go recorded none
	Dirty     bool   // built from a work tree with uncommitted changes
	Time      string // commit time (RFC 3339), "" if unknown
	GoVersion string
	Platform  string // GOOS/GOARCH
}

// readBuildInfo combines the -X version with what the Go toolchain
// recorded in the binary (bi may be nil: not built with module support).
func readBuildInfo(ldVersion string, bi *debug.BuildInfo, ok bool) buildInfo {
	b := buildInfo{Version: ldVersion, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if ok && bi != nil {
		b.GoVersion = bi.GoVersion
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				b.Dirty = s.Value == "true"
			case "vcs.time":
				b.Time = s.Value
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

func (b buildInfo) write(w io.Writer) error {
	commit := b.Commit
	if commit == "" {
		commit = "unknown"
	}
	if b.Dirty {
		commit += " (dirty: uncommitted changes)"
	}
	if b.Time != "" {
		commit += ", " + b.Time
	}
	_, err := fmt.Fprintf(w, "rdg %s\ncommit %s\n%s %s\n", b.Version, commit, b.GoVersion, b.Platform)
	return err
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print rdg's version, the commit it was built from, and the Go version",
		Long: `Print the version (set at build time with -ldflags "-X main.version=...",
else the module version of a go install module@version build, else
"devel"), the VCS commit and its time as the Go toolchain recorded them
(with "dirty" for a build with uncommitted changes), the Go version and
the platform.`,
		Example: `  rdg version`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, ok := debug.ReadBuildInfo()
			return readBuildInfo(version, bi, ok).write(cmd.OutOrStdout())
		},
	}
}
