// Package review is what finance's review reports (the workbook and the
// HTML report) are made from, and how their files are named; and how the
// private reports (the CSV reports too) find a referrer's email.
package review

import (
	"github.com/refrecon/refrecon/pipeline"
	"github.com/refrecon/refrecon/sinks/internal/privatefile"
	"github.com/refrecon/refrecon/sinks/public/snapdiff"
)

// Input is what a review report shows.
type Input struct {
	Info   pipeline.RunInfo
	Result *pipeline.Result
	// Changes is the comparison with the previous snapshot; nil when there
	// is none.
	Changes *snapdiff.Diff
	// LaterChanges, when set, is called instead of reading Changes: it
	// waits for the comparison and returns it. A report calls it only once
	// it has made what does not need the comparison, so that it can start
	// before the comparison is there.
	LaterChanges func() *snapdiff.Diff
	// CarryFrom, when set, is the directory of the previous run's reports
	// (a run writes into a staging directory inside PRIVATE_DIR and passes
	// PRIVATE_DIR): the workbook copies in, as they are, the deflated
	// worksheets of the newest workbook there that has the same XML
	// (package workbook, carry.go). The bytes written are the same either
	// way.
	CarryFrom string
}

// Diff is the comparison with the previous snapshot (nil for none),
// waiting for it when it comes later.
func (in Input) Diff() *snapdiff.Diff {
	if in.LaterChanges != nil {
		return in.LaterChanges()
	}
	return in.Changes
}

// Prefix starts the name of every review report in PRIVATE_DIR.
const Prefix = "report-"

// FileName is a review report's name for a snapshot: report-<id><ext>.
func FileName(snapshotID, ext string) string { return Prefix + snapshotID + ext }

// Extensions of the review reports.
const (
	Workbook = ".xlsx"
	HTML     = ".html"
)

// RemoveOlder removes from dir the reports with extension ext of every
// snapshot but snapshotID.
func RemoveOlder(dir, snapshotID, ext string) error {
	return privatefile.RemoveOthers(dir, Prefix, ext, FileName(snapshotID, ext))
}
