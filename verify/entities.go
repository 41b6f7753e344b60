package verify

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/url"

	"github.com/verifykit/verifykit/gen/models"
)

// CreateEntity creates the entity identity, a user of the service
// serviceSID (operation CreateEntity). An entity that exists already is an
// *Error with code 60301. Retries: on 429 only, like every create.
func (c *Client) CreateEntity(ctx context.Context, serviceSID, identity string) (*models.Entity, error) {
	if serviceSID == "" {
		return nil, errors.New("create entity: empty service SID")
	}
	e, err := resource[models.Entity](c.gen.CreateEntityWithBody(ctx, serviceSID, formContentType,
		formBody(url.Values{"Identity": {identity}})))
	if err != nil {
		return nil, fmt.Errorf("create entity %s: %w", identity, err)
	}
	return e, nil
}

// FetchEntity fetches the entity identity of the service serviceSID
// (operation FetchEntity). Retries: as RetryPolicy allows a GET.
func (c *Client) FetchEntity(ctx context.Context, serviceSID, identity string) (*models.Entity, error) {
	if serviceSID == "" || identity == "" {
		return nil, errors.New("fetch entity: empty service SID or identity")
	}
	e, err := resource[models.Entity](c.gen.FetchEntity(ctx, serviceSID, identity))
	if err != nil {
		return nil, fmt.Errorf("fetch entity %s: %w", identity, err)
	}
	return e, nil
}

// DeleteEntity deletes the entity identity of the service serviceSID, and
// every factor it holds (operation DeleteEntity). Retries: as RetryPolicy
// allows a DELETE, so a retry after a first attempt that took effect
// answers 404, code 20404.
func (c *Client) DeleteEntity(ctx context.Context, serviceSID, identity string) error {
	if serviceSID == "" || identity == "" {
		return errors.New("delete entity: empty service SID or identity")
	}
	if err := noContent(c.gen.DeleteEntity(ctx, serviceSID, identity)); err != nil {
		return fmt.Errorf("delete entity %s: %w", identity, err)
	}
	return nil
}

// ListEntitiesPage fetches the page p of the entities of the service
// serviceSID, oldest first (operation ListEntity). NextPage reads the
// ListParams of the page after it. Retries: as RetryPolicy allows a GET.
func (c *Client) ListEntitiesPage(ctx context.Context, serviceSID string, p ListParams) (*models.EntityList, error) {
	if serviceSID == "" {
		return nil, errors.New("list entities: empty service SID")
	}
	var q models.ListEntityParams
	q.PageSize, q.Page, q.PageToken = p.query()
	l, err := resource[models.EntityList](c.gen.ListEntity(ctx, serviceSID, &q))
	if err != nil {
		return nil, fmt.Errorf("list entities: %w", err)
	}
	return l, nil
}

// ListEntities returns an iterator over the entities of the service
// serviceSID, from the page p names on, oldest first: it fetches each page
// with ListEntitiesPage when the loop gets to it. An error ends the
// iteration as the last pair it yields:
//
//	for e, err := range c.ListEntities(ctx, serviceSID, verify.ListParams{}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(*e.Identity)
//	}
func (c *Client) ListEntities(ctx context.Context, serviceSID string, p ListParams) iter.Seq2[models.Entity, error] {
	return items("list entities", p, func(p ListParams) ([]models.Entity, models.ListMeta, error) {
		l, err := c.ListEntitiesPage(ctx, serviceSID, p)
		if err != nil {
			return nil, models.ListMeta{}, err
		}
		return l.Entities, l.Meta, nil
	})
}
