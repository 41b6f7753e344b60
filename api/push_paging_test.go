package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/verifykit/verifykit/verifydtest"
)

// entityPage is the part of a ListEntity page the paging tests read.
type entityPage struct {
	Entities []struct {
		Identity string `json:"identity"`
	} `json:"entities"`
	Meta struct {
		Page            int     `json:"page"`
		PageSize        int     `json:"page_size"`
		FirstPageURL    string  `json:"first_page_url"`
		URL             string  `json:"url"`
		NextPageURL     *string `json:"next_page_url"`
		PreviousPageURL *string `json:"previous_page_url"`
		Key             string  `json:"key"`
	} `json:"meta"`
}

func (p entityPage) identities() []string {
	var ids []string
	for _, e := range p.Entities {
		ids = append(ids, e.Identity)
	}
	return ids
}

// TestPushPaging: lists page by cursor, forwards and backwards, as
// twilio-go follows next_page_url and as the iOS SDK sends pageToken. Five
// entities are made in one second, so that the order rests on the SID
// and not the clock alone.
func TestPushPaging(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	s := verifydtest.Start(t, verifydtest.WithClock(func() time.Time { return now }))
	rc, rec := twilioClient(s, s.AccountSID, s.AuthToken, s.AccountSID)
	var want []string
	for i := range 5 {
		id := fmt.Sprintf("user-%04d-page", i)
		if _, err := rc.VerifyV2.CreateEntity(s.ServiceSID, (&verifyv2.CreateEntityParams{}).SetIdentity(id)); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	rec.take()

	t.Run("twilio-go follows next_page_url", func(t *testing.T) {
		list, err := rc.VerifyV2.ListEntity(s.ServiceSID, (&verifyv2.ListEntityParams{}).SetPageSize(2))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range list {
			got = append(got, *e.Identity)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("ListEntity = %v, want %v", got, want)
		}
		if sent := rec.take(); len(sent) != 3 {
			t.Errorf("twilio-go sent %d requests for 5 entities in pages of 2, want 3: %+v", len(sent), sent)
		}
	})

	get := func(t *testing.T, u string) entityPage {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(s.AccountSID, s.AuthToken)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
		}
		var p entityPage
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	list := s.URL + "/v2/Services/" + s.ServiceSID + "/Entities"

	t.Run("forwards and back", func(t *testing.T) {
		first := get(t, list+"?PageSize=2")
		if first.Meta.PreviousPageURL != nil || first.Meta.NextPageURL == nil || first.Meta.Key != "entities" || first.Meta.PageSize != 2 {
			t.Fatalf("first page meta = %+v", first.Meta)
		}
		second := get(t, *first.Meta.NextPageURL)
		if second.Meta.Page != 1 || second.Meta.PreviousPageURL == nil || second.Meta.NextPageURL == nil {
			t.Fatalf("second page meta = %+v", second.Meta)
		}
		third := get(t, *second.Meta.NextPageURL)
		if third.Meta.NextPageURL != nil || len(third.Entities) != 1 {
			t.Fatalf("last page: %v, meta %+v; want one entity and no next_page_url", third.identities(), third.Meta)
		}
		all := slices.Concat(first.identities(), second.identities(), third.identities())
		if len(all) != 5 || len(slices.Compact(slices.Sorted(slices.Values(all)))) != 5 {
			t.Errorf("three pages hold %v, want each of the 5 entities once", all)
		}
		back := get(t, *second.Meta.PreviousPageURL)
		if !slices.Equal(back.identities(), first.identities()) {
			t.Errorf("previous_page_url of page 2 = %v, want page 1 %v", back.identities(), first.identities())
		}
		back2 := get(t, *third.Meta.PreviousPageURL)
		if !slices.Equal(back2.identities(), second.identities()) {
			t.Errorf("previous_page_url of page 3 = %v, want page 2 %v", back2.identities(), second.identities())
		}
	})

	t.Run("iOS pageToken", func(t *testing.T) {
		first := get(t, list+"?PageSize=2")
		next, err := url.Parse(*first.Meta.NextPageURL)
		if err != nil {
			t.Fatal(err)
		}
		q := next.Query()
		tok := q.Get("PageToken")
		if !strings.HasPrefix(tok, "PN") {
			t.Fatalf("next_page_url %s has PageToken %q", next, tok)
		}
		ios := get(t, list+"?PageSize=2&pageToken="+url.QueryEscape(tok))
		android := get(t, next.String())
		if !slices.Equal(ios.identities(), android.identities()) {
			t.Errorf("pageToken page = %v, PageToken page = %v; want the same", ios.identities(), android.identities())
		}
	})

	t.Run("bad paging parameters", func(t *testing.T) {
		for _, q := range []string{
			"PageToken=nonsense", "pageToken=PNxx_YE", "PageToken=PN1_" + strings.Repeat("Y", 40),
			"PageSize=0", "PageSize=1001", "PageSize=two", "Page=-1",
		} {
			req, _ := http.NewRequest(http.MethodGet, list+"?"+q, nil)
			req.SetBasicAuth(s.AccountSID, s.AuthToken)
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			checkErrorBody(t, resp, readAll(t, resp), http.StatusBadRequest, 60200)
			resp.Body.Close()
		}
	})
}
