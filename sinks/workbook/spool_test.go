package workbook

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refrecon/refrecon/pipeline"
)

// TestSpoolCopiesTheBytesTheWriterWrites deflates a worksheet through the
// spool and through archive/zip's own writer, and compares the two
// archives byte for byte; a worksheet whose XML excelize wrote otherwise
// the second time is left to the writer.
func TestSpoolCopiesTheBytesTheWriterWrites(t *testing.T) {
	sp := &sheetSpec{base: "s", title: []cell{str("title")}, tables: []table{rowsTable(strs("a", "b"),
		[][]cell{{str("x"), num(1)}, {text("<&>"), num(-2)}})}}
	parts, _ := sp.layout(nil)
	xml := []byte(`<worksheet>` + string(placeholderStart) + `0` + string(placeholderEnd) + `<cols/></worksheet>`)
	st := &styles{}
	modified := time.Date(2026, 7, 16, 1, 2, 3, 0, time.UTC)
	a := &archive{entries: []archiveEntry{{name: "xl/worksheets/sheet1.xml", data: bytes.NewBuffer(xml)}}}
	write := func(s *spool) []byte {
		var out bytes.Buffer
		rows := &rowSource{ctx: context.Background(), parts: parts, written: make([]bool, 1), styles: st}
		if err := a.write(&out, modified, rows, s); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	s, err := startSpool(context.Background(), a, map[int]*part{0: parts[0]}, st)
	if err != nil {
		t.Fatal(err)
	}
	<-s.done
	spooled := write(s)
	if s.copied != 1 {
		t.Fatalf("the writer took %d sheets from the spool, want 1", s.copied)
	}
	direct := write(nil)
	if !bytes.Equal(spooled, direct) {
		t.Fatalf("spooled archive differs from the writer's:\n%x\n%x", spooled, direct)
	}
	zr, err := zip.NewReader(bytes.NewReader(spooled), int64(len(spooled)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc) // checks the CRC-32 at EOF
	if err != nil || !bytes.Contains(got, []byte(`&lt;&amp;&gt;`)) {
		t.Fatalf("read back %q, %v", got, err)
	}

	s, err = startSpool(context.Background(), a, map[int]*part{0: parts[0]}, st)
	if err != nil {
		t.Fatal(err)
	}
	<-s.done
	if d := s.take(0, append([]byte(nil), bytes.Replace(xml, []byte("<cols/>"), []byte("<cols></cols>"), 1)...)); d != nil {
		t.Error("the spool's sheet was taken for other XML")
	}
}

// TestEmailIndexMatchesMap asks the email index for refcodes in refcode
// order (with gaps of every size), backwards, at random and for refcodes
// nobody has, of referrers in refcode order (some sharing a refcode) and
// not; every answer is the first referrer's email, as a map of the first
// ones gives.
func TestEmailIndexMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var users []pipeline.User
	for i := range 3000 {
		rc := fmt.Sprintf("rc%05d", r.IntN(5000))
		users = append(users, pipeline.User{Refcode: rc, Email: fmt.Sprintf("u%d@example.com", i)})
	}
	sorted := slices.Clone(users)
	slices.SortFunc(sorted, func(a, b pipeline.User) int {
		return cmp.Or(strings.Compare(a.Refcode, b.Refcode), strings.Compare(a.Email, b.Email))
	})
	var asks []string
	for i := range 6000 { // in order, every refcode (known or not)
		asks = append(asks, fmt.Sprintf("rc%05d", i))
	}
	for i := 0; i < 6000; i += 1 + r.IntN(40) { // in order with gaps
		asks = append(asks, fmt.Sprintf("rc%05d", i))
	}
	for i := 5999; i >= 0; i -= 1 + r.IntN(3) { // backwards
		asks = append(asks, fmt.Sprintf("rc%05d", i))
	}
	for range 3000 {
		asks = append(asks, fmt.Sprintf("rc%05d", r.IntN(6000)))
	}
	asks = append(asks, "", "a", "zz")
	for _, us := range [][]pipeline.User{sorted, users} {
		want := map[string]string{}
		for _, u := range us {
			if _, dup := want[u.Refcode]; !dup {
				want[u.Refcode] = u.Email
			}
		}
		x := newEmailIndex(us)
		c := x.cursor()
		found := 0
		for _, rc := range asks {
			got := c.of(rc)
			if got != want[rc] {
				t.Fatalf("email of %q = %q, want %q", rc, got, want[rc])
			}
			if got != "" {
				found++
			}
		}
		if found < 1000 {
			t.Fatalf("only %d refcodes found", found)
		}
	}
	if newEmailIndex(sorted).users == nil || newEmailIndex(users).byCode == nil {
		t.Error("the index did not take the walk for sorted referrers and the map otherwise")
	}
}
