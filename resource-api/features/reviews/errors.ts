/**
 * Error codes of listing reviews. 404s never say whether a hidden thing exists. A listing that
 * is not published answers the listings' LISTING_NOT_FOUND, a reviewer without an entitlement
 * billing's NOT_ENTITLED.
 */
export const ReviewErrors = {
  REVIEW_NOT_FOUND: { status: 404, message: 'No such review.' },
  REVIEW_EXISTS: { status: 409, message: 'You have already reviewed this listing.' },
  REVIEW_REJECTED: { status: 422, message: 'The review was not accepted by moderation.' },
} as const;
