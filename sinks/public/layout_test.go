package public

import "testing"

func TestParseLatest(t *testing.T) {
	const id = "20260415T000000Z-0123456789ab"
	for in, want := range map[string]string{
		`{"snapshotId":"` + id + `","path":"snapshots/` + id + `/"}`: id,
		`{"snapshotId":"` + id + `"}`:                                id,
		`{"path":"snapshots/` + id + `/"}`:                           id,
		`{"path":"snapshots/` + id + `"}`:                            id,
		`{"path":"snapshots/"}`:                                      "",
		`{"path":"snapshots//"}`:                                     "",
		`{"path":"elsewhere/` + id + `/"}`:                           "",
		`{"snapshotId":"` + id + `","path":"snapshots/other/"}`:      "",
		`{"snapshotId":"../x"}`:                                      "",
		`not json`:                                                   "",
	} {
		got, err := parseLatest([]byte(in))
		if got != want || (err == nil) != (want != "") {
			t.Errorf("parseLatest(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}
