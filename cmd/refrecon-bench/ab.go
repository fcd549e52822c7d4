package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sinks/public/localdir"
	"github.com/refrecon/refrecon/sinks/workbook"
)

// abBinary is one side of an A/B comparison (--against).
type abBinary struct {
	label string // "A" (--bin) or "B" (--against)
	bin   string
	tpl   string // its template: the outputs of one cold run at AS_OF
}

// runAB times the next night of o.bin (A) against other's (B) on the
// dataset of n referrals in dir. One cold run per binary at AS_OF makes its
// template (root/<label>/template); then o.count rounds each copy a
// binary's template into a trial directory, as a previous night leaves its
// outputs, and time `refrecon run` at AS_OF + 1 day there: whole processes,
// binaries in turn, the order alternating (A B, B A, ...) so that a drift
// of the machine falls on both. Comparing two benches run one after the
// other compares two states of a shared machine as much as two binaries
// (docs/performance.md, "Measuring").
//
// A trial's previous directory is moved into root/trash, not deleted
// (files created soon after many are deleted cost more: docs/performance.md,
// change 9); root is under the bench's outputs, which run removes when the
// bench ends (unless --keep-outputs).
func runAB(ctx context.Context, o options, n int, dir, root, other string, stdout, results io.Writer) error {
	if err := os.RemoveAll(root); err != nil { // kept by an earlier --keep-outputs
		return err
	}
	trash := filepath.Join(root, "trash")
	if err := os.MkdirAll(trash, 0o755); err != nil {
		return err
	}
	sides := []*abBinary{{label: "A", bin: o.bin}, {label: "B", bin: other}}
	for _, s := range sides {
		s.tpl = filepath.Join(root, s.label, "template")
		if err := os.MkdirAll(s.tpl, 0o755); err != nil {
			return err
		}
		so := o
		so.bin = s.bin
		fmt.Fprintf(stdout, "A/B, %d referrals: %s = %s, cold run at %s (its template)\n", n, s.label, s.bin, o.asOf)
		if _, err := runOnce(ctx, so, n, dir, s.tpl, o.asOf); err != nil {
			return err
		}
		v, err := codeVersionOf(ctx, s.tpl)
		if err != nil {
			return fmt.Errorf("%s's template: %w", s.label, err)
		}
		if !workbook.Carries(v) {
			fmt.Fprintf(stdout, "note: %s's code version is %q: such a build does not carry the workbook between nights (workbook.Carries), so its nights are not comparable with a `make build` of a commit\n", s.label, v)
		}
	}
	t, _ := time.Parse(time.RFC3339, o.asOf) // checked in run
	night := t.AddDate(0, 0, 1).Format(time.RFC3339)
	nights := map[string][]processResult{}
	for k := 0; k < o.count; k++ {
		order := sides
		if k%2 == 1 {
			order = []*abBinary{sides[1], sides[0]}
		}
		for _, s := range order {
			trial := filepath.Join(root, s.label, "trial")
			if err := moveAside(trial, trash); err != nil {
				return err
			}
			if err := copyOutputs(s.tpl, trial); err != nil {
				return fmt.Errorf("copy %s's template: %w", s.label, err)
			}
			syscall.Sync()
			so := o
			so.bin = s.bin
			r, err := runOnce(ctx, so, n, dir, trial, night)
			if err != nil {
				return err
			}
			nights[s.label] = append(nights[s.label], r.process)
			fmt.Fprintf(stdout, "  round %d %s: %.2f s wall, %.2f s CPU (%.2f s system), %.0f MiB\n", k+1, s.label, r.process.wall, r.process.cpu, r.process.sys, float64(r.process.peakRSS)/(1<<20))
			writeABResult(results, n, s.label, r.process)
		}
	}
	printAB(stdout, n, sides, nights)
	return nil
}

// printAB prints each binary's medians and the medians of the pairwise
// ratios B/A (round k against round k).
func printAB(w io.Writer, n int, sides []*abBinary, nights map[string][]processResult) {
	a, b := nights[sides[0].label], nights[sides[1].label]
	fmt.Fprintf(w, "\nA/B, %d referrals, the next night (AS_OF + 1 day over a copy of each binary's cold run), %d round(s)\n", n, len(a))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "binary\twall s (median)\twall s (each run)\tCPU s (median)\tpeak RSS MiB (median)\t")
	for _, s := range sides {
		var walls, cpus, rss []float64
		var each []string
		for _, r := range nights[s.label] {
			walls = append(walls, r.wall)
			cpus = append(cpus, r.cpu)
			rss = append(rss, float64(r.peakRSS))
			each = append(each, fmt.Sprintf("%.2f", r.wall))
		}
		fmt.Fprintf(tw, "%s %s\t%.2f\t%s\t%.2f\t%.0f\t\n", s.label, s.bin, median(walls), strings.Join(each, " "), median(cpus), median(rss)/(1<<20))
	}
	tw.Flush()
	ratio := func(get func(processResult) float64) (float64, string) {
		var rs []float64
		var each []string
		for k := range min(len(a), len(b)) {
			if get(a[k]) > 0 {
				rs = append(rs, get(b[k])/get(a[k]))
				each = append(each, fmt.Sprintf("%.3f", rs[len(rs)-1]))
			}
		}
		return median(rs), strings.Join(each, " ")
	}
	wm, we := ratio(func(p processResult) float64 { return p.wall })
	cm, ce := ratio(func(p processResult) float64 { return p.cpu })
	fmt.Fprintf(w, "B / A, median of pairs: wall %.3f (%s), CPU %.3f (%s)\n", wm, we, cm, ce)
	fmt.Fprintln(w, "(CPU: the child's user + system time. On a shared machine the CPU time varies less than the wall time; one round is one sample.)")
}

// writeABResult writes one trial in Go benchmark format (for benchstat):
// wall time, CPU time and peak RSS.
func writeABResult(w io.Writer, n int, label string, p processResult) {
	fmt.Fprintf(w, "BenchmarkNight/referrals=%d/bin=%s 1 %d ns/op %d cpu-ns/op %d peak-rss-bytes\n", n, label, int64(p.wall*1e9), int64(p.cpu*1e9), p.peakRSS)
}

// codeVersionOf is the code version in the manifest of the snapshot
// out/public/latest.json names.
func codeVersionOf(ctx context.Context, out string) (string, error) {
	r := public.NewReader(localdir.Open(filepath.Join(out, "public")))
	id, err := r.Latest(ctx)
	if err != nil {
		return "", err
	}
	m, err := r.Manifest(ctx, id)
	if err != nil {
		return "", err
	}
	return m.CodeVersion, nil
}

// moveAside renames dir into trash (a name of its own there); a missing
// dir is nothing to move.
func moveAside(dir, trash string) error {
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	return os.Rename(dir, filepath.Join(trash, filepath.Base(dir)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)))
}

// copyOutputs copies a run's outputs from src into dst (new) as the next
// night finds them: the files under public/snapshots are hard links (a
// published snapshot is never written again, and the next night links its
// unchanged files in turn); every other file (public/latest.json, the
// lock, the private reports, the warehouse) is copied, so the night can
// replace or lock it without touching src.
func copyOutputs(src, dst string) error {
	snapshots := filepath.Join(src, "public", "snapshots")
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, r)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s: not a regular file or directory", p)
		case strings.HasPrefix(p, snapshots+string(filepath.Separator)):
			return os.Link(p, target)
		default:
			return copyFile(p, target)
		}
	})
}

// copyFile copies the regular file src to dst (new), with src's mode.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
