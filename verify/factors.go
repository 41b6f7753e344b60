package verify

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/verifykit/verifykit/gen/models"
)

// FetchFactor fetches the factor sid of the entity identity of the service
// serviceSID (operation FetchFactor). Retries: as RetryPolicy allows a GET.
func (c *Client) FetchFactor(ctx context.Context, serviceSID, identity, sid string) (*models.Factor, error) {
	if serviceSID == "" || identity == "" || sid == "" {
		return nil, errors.New("fetch factor: empty service SID, identity or SID")
	}
	f, err := resource[models.Factor](c.gen.FetchFactor(ctx, serviceSID, identity, sid))
	if err != nil {
		return nil, fmt.Errorf("fetch factor %s: %w", sid, err)
	}
	return f, nil
}

// DeleteFactor deletes the factor sid of the entity identity of the
// service serviceSID (operation DeleteFactor). Retries: as RetryPolicy
// allows a DELETE, so a retry after a first attempt that took effect
// answers 404, code 20404.
func (c *Client) DeleteFactor(ctx context.Context, serviceSID, identity, sid string) error {
	if serviceSID == "" || identity == "" || sid == "" {
		return errors.New("delete factor: empty service SID, identity or SID")
	}
	if err := noContent(c.gen.DeleteFactor(ctx, serviceSID, identity, sid)); err != nil {
		return fmt.Errorf("delete factor %s: %w", sid, err)
	}
	return nil
}

// ListFactorsPage fetches the page p of the factors of the entity identity
// of the service serviceSID, oldest first (operation ListFactor). NextPage
// reads the ListParams of the page after it. Retries: as RetryPolicy
// allows a GET.
func (c *Client) ListFactorsPage(ctx context.Context, serviceSID, identity string, p ListParams) (*models.FactorList, error) {
	if serviceSID == "" || identity == "" {
		return nil, errors.New("list factors: empty service SID or identity")
	}
	var q models.ListFactorParams
	q.PageSize, q.Page, q.PageToken = p.query()
	l, err := resource[models.FactorList](c.gen.ListFactor(ctx, serviceSID, identity, &q))
	if err != nil {
		return nil, fmt.Errorf("list factors of %s: %w", identity, err)
	}
	return l, nil
}

// ListFactors returns an iterator over the factors of the entity identity
// of the service serviceSID, from the page p names on, oldest first. It
// pages as ListEntities does.
func (c *Client) ListFactors(ctx context.Context, serviceSID, identity string, p ListParams) iter.Seq2[models.Factor, error] {
	return items("list factors of "+identity, p, func(p ListParams) ([]models.Factor, models.ListMeta, error) {
		l, err := c.ListFactorsPage(ctx, serviceSID, identity, p)
		if err != nil {
			return nil, models.ListMeta{}, err
		}
		return l.Factors, l.Meta, nil
	})
}
