package migration

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestLoad(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []Migration
		wantErr string
	}{
		{
			name: "OrderedByNumber",
			files: fstest.MapFS{
				"m/0010_later.sql":  file("B"),
				"m/0002_second.sql": file("A"),
				"m/README.md":       file("ignored"),
			},
			want: []Migration{
				{Version: 2, Name: "0002_second.sql", SQL: "A"},
				{Version: 10, Name: "0010_later.sql", SQL: "B"},
			},
		},
		{
			name:  "Empty",
			files: fstest.MapFS{"m/README.md": file("")},
		},
		{
			name:    "NoNumber",
			files:   fstest.MapFS{"m/init.sql": file("")},
			wantErr: "name must be NNNN_description.sql",
		},
		{
			name:    "NoDescription",
			files:   fstest.MapFS{"m/0001.sql": file("")},
			wantErr: "name must be NNNN_description.sql",
		},
		{
			name:    "ZeroVersion",
			files:   fstest.MapFS{"m/0000_zero.sql": file("")},
			wantErr: "name must be NNNN_description.sql",
		},
		{
			name:    "DuplicateVersion",
			files:   fstest.MapFS{"m/0001_a.sql": file(""), "m/01_b.sql": file("")},
			wantErr: "share version 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(tt.files, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(): %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Load() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPending(t *testing.T) {
	ms := []Migration{{Version: 1, Name: "0001_a.sql"}, {Version: 2, Name: "0002_b.sql"}, {Version: 3, Name: "0003_c.sql"}}
	tests := []struct {
		name    string
		applied map[int]bool
		want    []Migration
		wantErr string
	}{
		{name: "EmptyDatabase", applied: map[int]bool{}, want: ms},
		{name: "SomeApplied", applied: map[int]bool{1: true, 2: true}, want: ms[2:]},
		{name: "UpToDate", applied: map[int]bool{1: true, 2: true, 3: true}, want: nil},
		{name: "Gap", applied: map[int]bool{2: true}, want: []Migration{ms[0], ms[2]}},
		{name: "NewerDatabase", applied: map[int]bool{1: true, 4: true}, wantErr: "schema version 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Pending(ms, tc.applied)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Pending = %v, %v; want an error mentioning %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Pending (-want +got):\n%s", diff)
			}
		})
	}
}
