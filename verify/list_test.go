package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/verify"
)

// pagedServer serves a list of n items, size to a page, in the shape of a
// list example of the contract. Each page's next_page_url names Twilio's
// host, not the server's: the client must take only its PageToken.
type pagedServer struct {
	listShape
	n, size  int
	failPage int // the page answered with a 500 instead, when not 0

	mu      sync.Mutex
	queries []string
}

// sid returns the SID of item i, from 1.
func (ps *pagedServer) sid(i int) string { return fmt.Sprintf("%s%032x", ps.prefix, i) }

func (ps *pagedServer) start(t *testing.T) *verify.Client {
	t.Helper()
	var page map[string]any
	if err := json.Unmarshal([]byte(exampleJSON(t, ps.example)), &page); err != nil {
		t.Fatal(err)
	}
	item := page[ps.key].([]any)[0].(map[string]any)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		ps.queries = append(ps.queries, r.URL.RawQuery)
		n := len(ps.queries)
		ps.mu.Unlock()
		if n > 20 {
			// The client goes round in circles: end it, so that the test
			// fails rather than hangs.
			http.Error(w, "too many requests", http.StatusTeapot)
			return
		}
		if r.Method != http.MethodGet || r.URL.Path != ps.path {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
			return
		}
		// The token is the SID of the last item of the page before, as
		// opaque to the client as verifyd's.
		number, first := 0, 1
		if tok := r.URL.Query().Get("PageToken"); tok != "" {
			var last int
			if _, err := fmt.Sscanf(strings.TrimPrefix(tok, "PN_"+ps.prefix), "%x", &last); err != nil {
				http.Error(w, "bad token", http.StatusBadRequest)
				return
			}
			number, first = last/ps.size, last+1
		}
		w.Header().Set("Content-Type", "application/json")
		if number == ps.failPage && ps.failPage != 0 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = fmt.Fprint(w, `{"code":20500,"message":"Internal Server Error","more_info":"https://www.twilio.com/docs/errors/20500","status":500}`)
			return
		}
		list := []any{}
		for i := first; i < first+ps.size && i <= ps.n; i++ {
			it := map[string]any{}
			for k, v := range item {
				it[k] = v
			}
			it["sid"] = ps.sid(i)
			list = append(list, it)
		}
		meta := page["meta"].(map[string]any)
		listURL := "https://verify.twilio.com" + ps.path
		next := any(nil)
		if last := first + len(list) - 1; last < ps.n {
			next = fmt.Sprintf("%s?PageSize=%d&Page=%d&PageToken=PN_%s", listURL, ps.size, number+1, ps.sid(last))
		}
		meta = map[string]any{
			"page": number, "page_size": ps.size, "key": meta["key"], "previous_page_url": nil,
			"first_page_url": fmt.Sprintf("%s?PageSize=%d&Page=0", listURL, ps.size),
			"url":            fmt.Sprintf("%s?%s", listURL, r.URL.RawQuery), "next_page_url": next,
		}
		_ = json.NewEncoder(w).Encode(map[string]any{ps.key: list, "meta": meta})
	}))
	t.Cleanup(srv.Close)
	c, err := verify.NewClient(verify.Config{AccountSID: testAC, AuthToken: "token", BaseURL: srv.URL},
		verify.WithRetry(verify.RetryPolicy{}), verify.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (ps *pagedServer) requests() []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]string(nil), ps.queries...)
}

// sids collects the SIDs an iterator yields, up to its error.
func sids[T any](seq iter.Seq2[T, error], sid func(T) *string) ([]string, error) {
	var got []string
	for v, err := range seq {
		if err != nil {
			return got, err
		}
		got = append(got, *sid(v))
	}
	return got, nil
}

// listShape is what a pagedServer serves.
type listShape struct {
	key     string // the property that holds the items, such as "entities"
	example string // the contract's example of a page, such as "EntityList"
	prefix  string // the SIDs' prefix, such as "YE"
	path    string // the list's path
}

// listCase is one of the client's list iterators, with a pagedServer for
// it.
type listCase struct {
	name   string
	shape  listShape
	filter string // the query the list's filters add to every page
	list   func(*verify.Client, verify.ListParams) ([]string, error)
}

// entityList is the shape of ListEntity's pages.
var entityList = listShape{key: "entities", example: "EntityList", prefix: "YE", path: servicePath + "/Entities"}

// lists are the client's list iterators.
func lists(ctx context.Context) []listCase {
	return []listCase{
		{
			name:  "ListEntities",
			shape: entityList,
			list: func(c *verify.Client, p verify.ListParams) ([]string, error) {
				return sids(c.ListEntities(ctx, testVA, p), func(e models.Entity) *string { return e.SID })
			},
		},
		{
			name:  "ListFactors",
			shape: listShape{key: "factors", example: "FactorList", prefix: "YF", path: entityPath + "/Factors"},
			list: func(c *verify.Client, p verify.ListParams) ([]string, error) {
				return sids(c.ListFactors(ctx, testVA, testIdentity, p), func(f models.Factor) *string { return f.SID })
			},
		},
		{
			name:   "ListChallenges",
			shape:  listShape{key: "challenges", example: "ChallengeList", prefix: "YC", path: entityPath + "/Challenges"},
			filter: "FactorSid=" + testYF + "&Status=approved&Order=desc&",
			list: func(c *verify.Client, p verify.ListParams) ([]string, error) {
				return sids(c.ListChallenges(ctx, testVA, testIdentity, verify.ChallengeListParams{
					FactorSID: testYF, Status: models.ChallengeStatusApproved, Order: models.Desc, ListParams: p,
				}), func(ch models.Challenge) *string { return ch.SID })
			},
		},
		{
			name:  "ListWebhooks",
			shape: listShape{key: "webhooks", example: "WebhookList", prefix: "YW", path: servicePath + "/Webhooks"},
			list: func(c *verify.Client, p verify.ListParams) ([]string, error) {
				return sids(c.ListWebhooks(ctx, testVA, p), func(w models.Webhook) *string { return w.SID })
			},
		},
	}
}

func TestListsFollowPages(t *testing.T) {
	for _, tc := range lists(context.Background()) {
		t.Run(tc.name, func(t *testing.T) {
			ps := &pagedServer{listShape: tc.shape, n: 5, size: 2}
			c := ps.start(t)
			got, err := tc.list(c, verify.ListParams{PageSize: 2})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			var want []string
			for i := 1; i <= 5; i++ {
				want = append(want, ps.sid(i))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s items mismatch (-want +got):\n%s", tc.name, diff)
			}
			wantQueries := []string{
				tc.filter + "PageSize=2",
				tc.filter + "PageSize=2&Page=1&PageToken=PN_" + ps.sid(2),
				tc.filter + "PageSize=2&Page=2&PageToken=PN_" + ps.sid(4),
			}
			if diff := cmp.Diff(wantQueries, ps.requests()); diff != "" {
				t.Errorf("%s queries mismatch (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

func TestListStartsAtToken(t *testing.T) {
	ps := &pagedServer{listShape: entityList, n: 5, size: 2}
	c := ps.start(t)
	// Without a PageSize, the next pages keep the size the server reported.
	got, err := sids(c.ListEntities(context.Background(), testVA, verify.ListParams{PageToken: "PN_" + ps.sid(2), Page: 1}),
		func(e models.Entity) *string { return e.SID })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{ps.sid(3), ps.sid(4), ps.sid(5)}, got); diff != "" {
		t.Errorf("items mismatch (-want +got):\n%s", diff)
	}
	want := []string{"Page=1&PageToken=PN_" + ps.sid(2), "PageSize=2&Page=2&PageToken=PN_" + ps.sid(4)}
	if diff := cmp.Diff(want, ps.requests()); diff != "" {
		t.Errorf("queries mismatch (-want +got):\n%s", diff)
	}
}

func TestListStopsWhenLoopBreaks(t *testing.T) {
	ps := &pagedServer{listShape: entityList, n: 5, size: 2}
	c := ps.start(t)
	n := 0
	for _, err := range c.ListEntities(context.Background(), testVA, verify.ListParams{PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if got := len(ps.requests()); got != 2 {
		t.Errorf("a loop that stops at the third item fetched %d pages, want 2", got)
	}
}

func TestListErrorEndsIteration(t *testing.T) {
	for _, tc := range lists(context.Background()) {
		t.Run(tc.name, func(t *testing.T) {
			ps := &pagedServer{listShape: tc.shape, n: 5, size: 2, failPage: 1}
			c := ps.start(t)
			got, err := tc.list(c, verify.ListParams{PageSize: 2})
			if diff := cmp.Diff([]string{ps.sid(1), ps.sid(2)}, got); diff != "" {
				t.Errorf("%s items before the error mismatch (-want +got):\n%s", tc.name, diff)
			}
			var verr *verify.Error
			if !errors.As(err, &verr) || verr.Code != 20500 {
				t.Fatalf("%s: error %v, want a *verify.Error with code 20500", tc.name, err)
			}
			if got := len(ps.requests()); got != 2 {
				t.Errorf("%s fetched %d pages, want 2: none after the error", tc.name, got)
			}
		})
	}
}

func TestListRefusesRepeatedPage(t *testing.T) {
	for _, tc := range []struct {
		name        string
		next        map[string]string // PageToken of a request -> that of its next page
		wantQueries []string
	}{
		{
			name:        "a page whose next page is itself",
			next:        map[string]string{"": "PN_a", "PN_a": "PN_a"},
			wantQueries: []string{"", "PageSize=50&PageToken=PN_a"},
		},
		{
			name:        "pages in a circle",
			next:        map[string]string{"": "PN_a", "PN_a": "PN_b", "PN_b": "PN_a"},
			wantQueries: []string{"", "PageSize=50&PageToken=PN_a", "PageSize=50&PageToken=PN_b"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var queries []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				queries = append(queries, r.URL.RawQuery)
				n := len(queries)
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				if n > 5 {
					// The client goes round in circles: end it, so that
					// the test fails rather than hangs.
					w.WriteHeader(http.StatusInternalServerError)
					_, _ = fmt.Fprint(w, `{"code":20500,"message":"Internal Server Error","more_info":"https://www.twilio.com/docs/errors/20500","status":500}`)
					return
				}
				_, _ = fmt.Fprintf(w, `{"webhooks":[],"meta":{"page":0,"page_size":50,"key":"webhooks","first_page_url":"https://verify.twilio.com/x",`+
					`"previous_page_url":null,"url":"https://verify.twilio.com/x","next_page_url":"https://verify.twilio.com/x?PageToken=%s"}}`,
					tc.next[r.URL.Query().Get("PageToken")])
			}))
			t.Cleanup(srv.Close)
			c, err := verify.NewClient(verify.Config{AccountSID: testAC, AuthToken: "token", BaseURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			got, err := sids(c.ListWebhooks(context.Background(), testVA, verify.ListParams{}), func(w models.Webhook) *string { return w.SID })
			if err == nil || !strings.HasPrefix(err.Error(), "list webhooks: next page") {
				t.Errorf("ListWebhooks = %v, %v; want an error that names the operation and the next page", got, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(tc.wantQueries, queries); diff != "" {
				t.Errorf("queries mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNextPage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		next    *string
		want    verify.ListParams
		wantOK  bool
		wantErr bool
	}{
		{name: "last page", next: nil},
		{name: "empty URL", next: ptr("")},
		{
			name: "Twilio's next_page_url", next: ptr("https://verify.twilio.com/v2/Services/" + testVA + "/Entities?PageSize=50&Page=1&PageToken=PAxyz"),
			want: verify.ListParams{PageSize: 50, Page: 1, PageToken: "PAxyz"}, wantOK: true,
		},
		{
			name: "filters are not ListParams", next: ptr("/v2/x?Status=pending&Order=desc&PageToken=PN1&Page=4"),
			want: verify.ListParams{PageSize: 7, Page: 4, PageToken: "PN1"}, wantOK: true,
		},
		{
			name: "the iOS spelling", next: ptr("https://verify.twilio.com/v2/x?pageToken=PN2"),
			want: verify.ListParams{PageSize: 7, PageToken: "PN2"}, wantOK: true,
		},
		{name: "no token", next: ptr("https://verify.twilio.com/v2/x?Page=1"), wantErr: true},
		{name: "bad page", next: ptr("https://verify.twilio.com/v2/x?PageToken=PN1&Page=one"), wantErr: true},
		{name: "negative page size", next: ptr("https://verify.twilio.com/v2/x?PageToken=PN1&PageSize=-1"), wantErr: true},
		{name: "not a URL", next: ptr("https://verify.twilio.com/%zz"), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := verify.NextPage(models.ListMeta{NextPageURL: tc.next, PageSize: 7})
			if (err != nil) != tc.wantErr {
				t.Fatalf("NextPage(%v): error %v, want an error: %t", tc.next, err, tc.wantErr)
			}
			if ok != tc.wantOK {
				t.Errorf("NextPage(%v) ok = %t, want %t", tc.next, ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("NextPage(%v) mismatch (-want +got):\n%s", tc.next, diff)
			}
		})
	}
}
