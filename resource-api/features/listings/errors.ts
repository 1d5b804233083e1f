/** Error codes of listings. LISTING_NOT_FOUND is the one answer for a listing the caller may not see (a draft, a deleted one), in every feature. */
export const ListingErrors = {
  LISTING_NOT_FOUND: { status: 404, message: 'No such listing.' },
  NOT_LISTING_OWNER: { status: 403, message: 'Only the publisher of this listing can do that.' },
  SLUG_TAKEN: { status: 409, message: 'Another listing already uses this slug.' },
  LISTING_SUSPENDED: { status: 409, message: 'This listing is suspended by an administrator.' },
  INVALID_TRANSITION: { status: 409, message: 'The listing is not in a state that allows this.' },
} as const;
