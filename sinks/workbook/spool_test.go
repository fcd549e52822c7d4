package workbook

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"testing"
	"time"
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
		if err := a.write(&out, modified, rows, s, &carrying{key: "test"}); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	s, err := startSpool(context.Background(), a, map[int]*part{0: parts[0]}, st, &carrying{key: "test"})
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

	s, err = startSpool(context.Background(), a, map[int]*part{0: parts[0]}, st, &carrying{key: "test"})
	if err != nil {
		t.Fatal(err)
	}
	<-s.done
	if d := s.take(0, append([]byte(nil), bytes.Replace(xml, []byte("<cols/>"), []byte("<cols></cols>"), 1)...)); d != nil {
		t.Error("the spool's sheet was taken for other XML")
	}
}
