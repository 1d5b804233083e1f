/** Error codes of listing reviews. 404s never say whether a hidden thing exists. */
export const ReviewErrors = {
  LISTING_NOT_FOUND: { status: 404, message: 'No such listing.' }, // as ListingErrors: drafts do not exist publicly
  REVIEW_NOT_FOUND: { status: 404, message: 'No such review.' },
  NOT_ENTITLED: { status: 403, message: 'Only users entitled to this listing may review it.' },
  REVIEW_EXISTS: { status: 409, message: 'You have already reviewed this listing.' },
  REVIEW_REJECTED: { status: 422, message: 'The review was not accepted by moderation.' },
} as const;
