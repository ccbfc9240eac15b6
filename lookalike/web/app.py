"""The page and the JSON API of one gallery: a thin HTTP shell over a lookalike Session, which holds the logic.

Safety, in one place:
- a file is served only as a gallery image looked up by its id, so no client input ever becomes a path, and only
  while it is still the regular file that was indexed (same size and content hash; 404 when gone, 410 when changed);
- request bodies are limited in size (413); an upload over the pixel limit is a 413 before any pixel is decoded, one
  that is not a readable image a 400 with the reason, and when every decoding slot stays busy the answer is 503;
- enrolment, the one write, needs the token the server was started with, and is off without one;
- every response carries the security headers, and only the Host names the server was started for are answered
  (see lookalike.web.security);
- names from the file system are made printable before they are sent (see lookalike.text);
- nothing a client sends is unpickled: uploads are only ever decoded as images by Pillow;
- the collection views (duplicates, map) only read: the files they keep beside the gallery can always be made again.
Endpoints are plain functions, so FastAPI runs them in its thread pool: requests are answered concurrently, and the
session keeps the shared gallery consistent (see lookalike.session).
"""

from __future__ import annotations

import hmac
import mimetypes
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.middleware.trustedhost import TrustedHostMiddleware

from lookalike import __version__
from lookalike.collection import MAP_SAMPLE
from lookalike.data import BadImage
from lookalike.embed import EmbedSettings
from lookalike.enrolment import MAX_IDENTITY_LENGTH
from lookalike.errors import LookalikeError
from lookalike.faces.stage import face_box
from lookalike.gallery import Hit, StoredImage
from lookalike.images import Encoded
from lookalike.session import Session
from lookalike.text import printable
from lookalike.uploads import UploadDecoder, UploadLimits
from lookalike.web.limits import UploadLimit, too_large
from lookalike.web.security import LOOPBACK_NAMES, SecurityHeaders
from lookalike.workspace import ModelLike, gallery_name

DEFAULT_MAX_UPLOAD_BYTES = 10 * 2**20
THUMBNAIL_SIZE = 192
MAX_K = 100
MAX_GROUPS = 200
"""Duplicate groups sent to the page at most, largest first: more is a list nobody reads, and `duplicates` has all."""
STATIC = Path(__file__).parent / "static"

_DECISIONS: dict[bool | None, Literal["same", "different", "undecided"]] = {
    True: "same", False: "different", None: "undecided"}
_IMAGE_HEADERS = {"Cache-Control": "private, max-age=3600"}
"""An id is never reused, so images may be cached (they are never sniffed: see lookalike.web.security)."""


class ImageOut(BaseModel):
    id: int
    name: str  # the file name; the full path stays on the server
    label: str | None
    identity: str | None
    region: str  # "" for the whole image; with face preprocessing, "face N at X,Y WxH"
    thumbnail: str  # URL of a square JPEG thumbnail (of the face, for a face)
    url: str  # URL of the image file itself


class HitOut(BaseModel):
    rank: int
    score: float  # cosine similarity, 1 = the same embedding
    image: ImageOut


class SearchOut(BaseModel):
    query: str  # the upload's name, or the gallery image's
    query_image: ImageOut | None  # the gallery image searched from, if it was one
    hits: list[HitOut]


class VerifyOut(BaseModel):
    distance: float
    similarity: float
    threshold: float | None
    same: bool | None  # None: no τ given or calibrated
    decision: Literal["same", "different", "undecided"]
    scorer: str


class FaceOut(BaseModel):
    region: str  # "" for the whole image; with face preprocessing, "face N at X,Y WxH"
    box: list[int] | None  # [left, top, width, height] in the uploaded photo's pixels, for a face
    identity: str | None  # None: unknown
    closest: str
    distance: float


class RecognizeOut(BaseModel):
    identity: str | None  # None: unknown (the main region: with face preprocessing, the largest face)
    closest: str  # the nearest enrolled identity, even when it was not near enough
    distance: float
    threshold: float
    scorer: str
    faces: list[FaceOut]  # every region found, largest face first; one for a model without face preprocessing


class EnrollOut(BaseModel):
    identity: str
    image: ImageOut
    identities: dict[str, int]


class ModelOut(BaseModel):
    id: str
    backbone: str | None
    image_size: int | None
    embedding_dim: int
    weights: str | None


class GalleryOut(BaseModel):
    name: str
    images: int
    model: ModelOut
    index: str
    metric: str
    threshold: float | None
    scorer: str
    identities: dict[str, int]
    enrolment: bool  # whether POST /api/enroll is open (the server has a token)
    max_upload_bytes: int


class MemberOut(BaseModel):
    score: float  # cosine similarity to the group's first image (1 for the first itself)
    image: ImageOut


class DuplicatesOut(BaseModel):
    threshold: float  # the cosine similarity at or above which the model alone grouped images
    candidate: float  # from this similarity on, pixel prints that agree group images too (when `pixel` is set)
    pixel: float | None  # the print correlation that counts as agreeing; None: the model alone decided
    level: str  # "duplicate" or "similar", a level measured for the gallery's model; "given" for a given threshold
    groups: int  # every group found; `shown` holds the largest
    shown: list[list[MemberOut]]


class PointOut(BaseModel):
    x: float
    y: float
    group: str | None  # cluster number or identity, or folder label; None: in none
    image: ImageOut


class MapOut(BaseModel):
    method: str  # "umap", "tsne" or "pca"
    colour_by: str  # "cluster", "label" or "none"
    gallery_images: int  # `points` may be a random sample of these
    points: list[PointOut]


class HealthOut(BaseModel):
    status: Literal["ok"]
    images: int


_bearer = HTTPBearer(auto_error=False, description="The token `lookalike serve` was started with.")
router = APIRouter(prefix="/api")

KOption = Annotated[int, Query(ge=1, le=MAX_K, description="How many look-alikes.")]
ThresholdOption = Annotated[
    float | None, Query(ge=0, le=2, description="Decision threshold τ on the distance; default: the gallery's.")
]


def _session(request: Request) -> Session:
    return request.app.state.session


Service = Annotated[Session, Depends(_session)]


def _require_token(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                            Depends(_bearer)]) -> None:
    expected = request.app.state.token
    if expected is None:
        raise HTTPException(404, "enrolment is off: start lookalike serve with --token (or LOOKALIKE_TOKEN) to "
                                 "allow it")
    if credentials is None:
        raise HTTPException(401, "enrolment needs the server's token: send the header 'Authorization: Bearer "
                                 "TOKEN'", headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(403, "the token is wrong")


def _read(request: Request, upload: UploadFile) -> Encoded:
    """An uploaded file's name and bytes, which the body limit already bounds; the name labels messages only."""
    limit = request.app.state.max_upload_bytes
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, too_large(limit))
    return Encoded((upload.filename or "upload")[:200], data)


def _image(image: StoredImage) -> ImageOut:
    return ImageOut(id=image.id, name=printable(Path(image.path).name), label=_shown(image.label),
                    identity=_shown(image.identity), region=image.region, thumbnail=f"/api/images/{image.id}/thumbnail",
                    url=f"/api/images/{image.id}")


def _shown(name: str | None) -> str | None:
    return None if name is None else printable(name)


def _hits(hits: list[Hit]) -> list[HitOut]:
    return [HitOut(rank=rank, score=hit.score, image=_image(hit.image)) for rank, hit in enumerate(hits, start=1)]


@router.get("/health", summary="Is the server up")
def health(service: Service) -> HealthOut:
    return HealthOut(status="ok", images=service.info().info.count)


@router.get("/gallery", summary="What the gallery holds: images, model, identities, τ")
def gallery(request: Request, service: Service) -> GalleryOut:
    summary, identities = service.info(), service.identities()
    info = summary.info
    return GalleryOut(
        name=printable(gallery_name(summary.location)), images=info.count,
        model=ModelOut(id=info.model_id, backbone=summary.backbone, image_size=summary.image_size,
                       embedding_dim=info.dim, weights=summary.weights),
        index=info.index, metric=info.metric, threshold=info.threshold, scorer=service.model.distance.name,
        identities={printable(name): count for name, count in identities.items()},
        enrolment=request.app.state.token is not None,
        max_upload_bytes=request.app.state.max_upload_bytes,
    )


@router.post("/search", summary="Look-alikes of an uploaded image")
def search_upload(request: Request, service: Service, file: Annotated[UploadFile, File(description="An image.")],
                  k: KOption = 10) -> SearchOut:
    upload = _read(request, file)
    return SearchOut(query=upload.name, query_image=None, hits=_hits(service.search(upload, k)))


@router.get("/search/{image_id}", summary="Look-alikes of a gallery image, by its id")
def search_image(service: Service, image_id: int, k: KOption = 10,
                 exclude_self: Annotated[bool, Query(description="Leave the image out of its own hits.")] = False,
                 ) -> SearchOut:
    image, hits = service.search_from(image_id, k, exclude_self=exclude_self)
    return SearchOut(query=printable(Path(image.path).name), query_image=_image(image), hits=_hits(hits))


@router.get("/duplicates", summary="Groups of near-duplicates (or of similar images) in the gallery")
def duplicates(service: Service,
               similar: Annotated[bool, Query(description="Group at the looser level: other shots of one scene.",
                                              )] = False,
               threshold: Annotated[float | None, Query(ge=-1, le=1, description="Cosine similarity; default: the "
                                                        "level measured for the gallery's model.")] = None,
               ) -> DuplicatesOut:
    report = service.duplicates(threshold=threshold, level="similar" if similar else "duplicate")
    return DuplicatesOut(threshold=report.threshold, candidate=report.rule.candidate, pixel=report.rule.pixel,
                         level=report.level, groups=len(report.groups), shown=[
        [MemberOut(score=score, image=_image(image)) for image, score in zip(group.images, group.scores)]
        for group in report.groups[:MAX_GROUPS]])


@router.get("/map", summary="The gallery's embedding laid out in 2-D, each image with its cluster or label")
def collection_map(service: Service, sample: Annotated[int, Query(ge=1, le=MAP_SAMPLE, description="Images laid "
                                                                   "out at most, drawn at random.")] = MAP_SAMPLE,
                   ) -> MapOut:
    layout, by, groups = service.layout(sample=sample)
    return MapOut(method=layout.method, colour_by=by, gallery_images=layout.gallery_images, points=[
        PointOut(x=float(x), y=float(y), group=_shown(group), image=_image(image))
        for (x, y), group, image in zip(layout.points.tolist(), groups, layout.images)])


@router.post("/verify", summary="Do two images show the same identity")
def verify(request: Request, service: Service, first: Annotated[UploadFile, File()],
           second: Annotated[UploadFile, File()], threshold: ThresholdOption = None) -> VerifyOut:
    verdict = service.verify(_read(request, first), _read(request, second), threshold=threshold)
    decision = _DECISIONS[verdict.same]
    return VerifyOut(distance=verdict.distance, similarity=verdict.similarity, threshold=verdict.threshold,
                     same=verdict.same, decision=decision, scorer=verdict.distance_name)


@router.post("/recognize", summary="Which enrolled identity an image shows, or unknown")
def recognize(request: Request, service: Service, file: Annotated[UploadFile, File()],
              threshold: ThresholdOption = None,
              aggregate: Annotated[Literal["nearest", "mean"], Query(
                  description="Score an identity by its nearest image, or by the mean of its images.")] = "nearest",
              ) -> RecognizeOut:
    report = service.recognise_each(_read(request, file), threshold=threshold, aggregate=aggregate)
    faces = [FaceOut(region=region, box=list(box) if (box := face_box(region)) else None,
                     identity=_shown(result.identity), closest=printable(result.closest), distance=result.distance)
             for region, (_, result) in zip(report.regions, report.results)]
    main = report.results[0][1]
    return RecognizeOut(identity=_shown(main.identity), closest=printable(main.closest), distance=main.distance,
                        threshold=report.threshold, scorer=service.model.distance.name, faces=faces)


@router.post("/enroll", summary="Enrol an image under an identity (needs the token)",
             dependencies=[Depends(_require_token)])
def enroll(request: Request, service: Service,
           identity: Annotated[str, Form(max_length=MAX_IDENTITY_LENGTH, pattern=r"\S",
                                         description="Whom the image shows.")],
           file: Annotated[UploadFile, File()]) -> EnrollOut:
    enrolment = service.enrol(identity, _read(request, file))
    return EnrollOut(identity=enrolment.identity, image=_image(enrolment.image), identities=enrolment.identities)


@router.get("/images/{image_id}", summary="A gallery image's file", response_class=Response,
            responses={200: {"content": {"image/*": {}}}, 410: {"description": "The file changed since indexing."}})
def image_file(service: Service, image_id: int) -> Response:
    image, data = service.file(image_id)
    media_type = mimetypes.guess_type(image.path)[0] or "application/octet-stream"
    name = quote(printable(Path(image.path).name))
    return Response(data, media_type=media_type,
                    headers={**_IMAGE_HEADERS, "Content-Disposition": f"inline; filename*=utf-8''{name}"})


@router.get("/images/{image_id}/thumbnail", summary="A gallery image as a small square JPEG",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def thumbnail(service: Service, image_id: int) -> Response:
    try:
        jpeg = service.thumbnail(image_id, THUMBNAIL_SIZE)
    except BadImage as bad:
        raise HTTPException(404, f"the file of image {image_id} cannot be read: {bad.reason}") from None
    return Response(jpeg, media_type="image/jpeg", headers=_IMAGE_HEADERS)


def create_app(
    gallery: str | Path,
    model: ModelLike = None,
    *,
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    upload_limits: UploadLimits = UploadLimits(),
    allowed_hosts: Sequence[str] = LOOPBACK_NAMES,
    settings: EmbedSettings = EmbedSettings(workers=0),
) -> FastAPI:
    """The web app for `gallery`; its model is loaded here, once. Enrolment is open only with a `token`. Requests
    whose Host is not in `allowed_hosts` (the loopback names by default; "*" for any) get 400."""
    if token is not None and not token.strip():
        raise LookalikeError("the token is empty; give a real one, or none to keep enrolment off")
    session = Session(gallery, model, settings=settings, uploads=UploadDecoder(upload_limits))
    session.info()  # a gallery that does not exist is an error now, not at the first request

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        session.close()

    app = FastAPIOffline(title="lookalike", version=__version__, redoc_url=None, lifespan=lifespan,
                         description="Search a gallery for look-alikes, verify and recognise identities.")
    app.state.session, app.state.token, app.state.max_upload_bytes = session, token, max_upload_bytes
    app.add_middleware(UploadLimit, max_bytes=max_upload_bytes)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(SecurityHeaders)  # added last, so it runs first and reaches every answer, refusals included
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.add_exception_handler(LookalikeError, _answer)
    return app


async def _answer(request: Request, error: Exception) -> JSONResponse:
    """A user's error in words, made printable, with the status its class declares (see lookalike.errors); one
    that asks the client to come back later says when."""
    assert isinstance(error, LookalikeError)  # the one kind this handler is registered for
    retry = getattr(error, "retry_after_seconds", None)
    return JSONResponse({"detail": printable(str(error))}, status_code=error.http_status,
                        headers={"Retry-After": str(retry)} if retry is not None else None)
