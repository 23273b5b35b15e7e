package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Stamped at build time (make build, scripts/release.sh) with
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=<sha> -X main.date=<RFC 3339>"
//
// Each one left empty falls back to what the Go toolchain recorded in the
// binary (the module version under go install, the vcs.* settings of a
// build in a git checkout).
var (
	version string
	commit  string
	date    string
)

// buildInfo is what "gatehouse version" prints.
type buildInfo struct {
	Version  string // v1.2.3, a pseudo-version, or "(devel)"
	Commit   string // the VCS revision, or "unknown"
	Modified bool   // built from a checkout with uncommitted changes
	Date     string // the build date if stamped, else the commit time, else "unknown"
	Stamped  bool   // Date is the build date (-X main.date), not the commit time
	Go       string // toolchain, OS and architecture
}

// readBuildInfo combines the -X stamps with the toolchain's build info.
func readBuildInfo(stampVersion, stampCommit, stampDate string, bi *debug.BuildInfo, ok bool) buildInfo {
	info := buildInfo{Version: "(devel)", Commit: "unknown", Date: "unknown",
		Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if ok && bi != nil {
		if bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.Date = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if stampVersion != "" {
		info.Version = stampVersion
	}
	if stampCommit != "" {
		info.Commit = stampCommit
	}
	if stampDate != "" {
		info.Date, info.Stamped = stampDate, true
	}
	return info
}

func currentBuildInfo() buildInfo {
	bi, ok := debug.ReadBuildInfo()
	return readBuildInfo(version, commit, date, bi, ok)
}

// buildVersion is the version alone, for logs and the admin API.
func buildVersion() string { return currentBuildInfo().Version }

func (b buildInfo) write(w io.Writer) {
	fmt.Fprintln(w, "gatehouse", b.Version)
	c := b.Commit
	if b.Modified {
		c += " (with uncommitted changes)"
	}
	fmt.Fprintln(w, "commit:", c)
	if b.Stamped {
		fmt.Fprintln(w, "built:", b.Date)
	} else {
		fmt.Fprintln(w, "commit time:", b.Date)
	}
	fmt.Fprintln(w, "go:", b.Go)
}

func versionCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "Prints the version, the commit and the build date of this binary.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	currentBuildInfo().write(stdout)
	return nil
}
